"""``ws.users``: activating users in bulk (match or create, usage location, licences where
seats are free, temporary passwords, aliases once the mailbox exists)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from toolkit.api.jobs import DEFAULT_CHUNK, run_job
from toolkit.api.results import JobRun
from toolkit.core.journal import Job
from toolkit.core.runner import RowResult
from toolkit.io.password_spool import PasswordSpool

if TYPE_CHECKING:
    from toolkit.api.workspace import Workspace
    from toolkit.core.jobs import JobPlan
    from toolkit.tasks.users.activation import ActivationInput
    from toolkit.tasks.users.activation_plan import RowPlan

DEFAULT_MAILBOX_WAIT = 1800.0  # seconds rows with aliases wait for their mailbox

PasswordSink = Callable[[str, str], None]  # (account, temporary password)


@dataclass
class ActivationRequest:
    """The CSV planned against the tenant: the job, and each row's plan in words."""

    job: JobPlan
    rows: list[RowPlan]

    @property
    def refused(self) -> list[RowPlan]:
        """Rows refused while planning: nothing is changed for them."""
        return [p for p in self.rows if p.error]


@dataclass
class ActivationResult:
    """The passes that ran (the second finishes the rows that waited for a mailbox), the
    passwords handed out when no sink was given, and the rows still waiting."""

    request: ActivationRequest
    runs: list[JobRun] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    waiting: list[int] = field(default_factory=list)

    @property
    def job(self) -> Job | None:
        return self.runs[0].job if self.runs else None

    @property
    def failed(self) -> int:
        return self.runs[-1].summary.counts["failed"] if self.runs else 0


class Activation:
    """One activation run: its passes and the temporary passwords it hands out.

    A password is handed to ``on_password`` once its account was switched on with it;
    until then it is kept in an owner-only spool (a crash loses none), deleted when the
    activation closes.
    """

    def __init__(self, ws: Workspace, request: ActivationRequest,
                 on_password: PasswordSink):
        self._ws = ws
        self.request = request
        self._on_password = on_password
        self._spool = PasswordSpool()
        self._plans: dict[int, RowPlan] = {}
        self._status: dict[int, str] = {}
        self.job: Job | None = None

    def run(self, *, concurrency: int | None = None, chunk_size: int = DEFAULT_CHUNK,
            results: Path | None = None) -> JobRun:
        """The first pass: every row planned; rows with aliases may end ``waiting``."""
        return self._pass(self.request.job, self.request.rows, concurrency=concurrency,
                          chunk_size=chunk_size, results=results)

    def waiting(self) -> list[int]:
        """Rows done for now that wait for their mailbox (to add aliases)."""
        return sorted(r for r, s in self._status.items() if s == "waiting")

    def wait_for_mailboxes(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` seconds for the waiting rows' mailboxes; the accounts
        whose mailbox arrived."""
        from toolkit.tasks.tenant_reads import wait_for_mailboxes

        waiting = [self._plans[r].target_upn for r in self.waiting()]
        return sorted(wait_for_mailboxes(self._ws.target, self._ws.catalog, waiting, timeout))

    def finish_waiting(self, *, concurrency: int | None = None,
                       chunk_size: int = DEFAULT_CHUNK, results: Path | None = None
                       ) -> JobRun:
        """The second pass: the job's rows without an outcome, planned again now."""
        from toolkit.core.journal import Journal
        from toolkit.tasks.users import activation

        assert self.job is not None, "finish_waiting() follows run()"
        with Journal() as journal:
            resumption, replans = activation.replan(self.job, journal, self._ws.target,
                                                    self._ws.catalog, new_passwords=True)
        return self._pass(resumption.plan, replans, concurrency=concurrency,
                          chunk_size=chunk_size, results=results, resume=self.job,
                          skip_rows=tuple(sorted(resumption.skip_rows)))

    def _pass(self, plan: JobPlan, plans: Sequence[RowPlan], *, concurrency: int | None,
              chunk_size: int, results: Path | None, resume: Job | None = None,
              skip_rows: tuple[int, ...] = ()) -> JobRun:
        self._plans.update({p.line: p for p in plans})
        self._spool.keep((p.target_upn, p.password) for p in plans
                         if p.password and p.password_generated and not p.error)

        def started(job: Job) -> None:
            self.job = job

        return run_job(self._ws.target, self._ws.catalog, plan, concurrency=concurrency,
                       chunk_size=chunk_size, results_path=results,
                       progress=self._ws.progress, resume=resume, skip_rows=skip_rows,
                       on_start=started, on_results=self._came)

    def _came(self, results: list[RowResult]) -> None:
        for result in results:
            self._status[result.row] = result.status
            plan = self._plans.get(result.row)
            # Handed out once the account was switched on with it (the template says so),
            # even when a later step of the row failed.
            if (plan is not None and plan.password_generated and plan.password
                    and result.fields.get("Enabled") is True):
                self._on_password(plan.target_upn, plan.password)

    def close(self) -> None:
        self._spool.delivered()

    def __enter__(self) -> Activation:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class Users:
    """``ws.users``."""

    def __init__(self, workspace: Workspace):
        self._ws = workspace

    def plan_activate(self, source: Path | str | ActivationInput, *,
                      usage_location: str | None = None, licenses: Sequence[str] = (),
                      dry_run: bool = False) -> ActivationRequest:
        """Check the CSV (every problem raised before anything is read; or the input
        already read with :func:`toolkit.tasks.users.activation.read_input`), read the tenant and
        plan each row. ``usage_location`` and ``licenses`` apply to rows without."""
        from toolkit.core.jobs import check_role
        from toolkit.tasks.users import activation
        from toolkit.tasks.users.countries import usage_location as country

        data = source if isinstance(source, activation.ActivationInput) else \
            activation.read_input(Path(source))
        defaults = activation.Defaults(country(usage_location) if usage_location else None,
                                       tuple(licenses))
        target, catalog = self._ws.target, self._ws.catalog
        if not dry_run:
            check_role(catalog.meta(activation.TEMPLATE), target)
        job, plans = activation.plan_job(target, catalog, data, defaults)
        return ActivationRequest(job, plans)

    def start(self, request: ActivationRequest, on_password: PasswordSink) -> Activation:
        """An activation run, to drive pass by pass (as the CLI does to report each)."""
        return Activation(self._ws, request, on_password)

    def activate(self, source: Path | str, *, usage_location: str | None = None,
                 licenses: Sequence[str] = (), dry_run: bool = False,
                 mailbox_timeout: float = DEFAULT_MAILBOX_WAIT,
                 concurrency: int | None = None, chunk_size: int = DEFAULT_CHUNK,
                 results: Path | None = None, on_password: PasswordSink | None = None
                 ) -> ActivationResult:
        """Activate the users of a CSV (UserPrincipalName, DisplayName, FirstName,
        LastName, UsageLocation, Licenses, Password, Aliases, Enabled).

        Generated temporary passwords go to ``on_password(account, password)``, else into
        ``result.passwords``. Rows still waiting for their mailbox after
        ``mailbox_timeout`` seconds are in ``result.waiting`` (``ws.jobs.resume`` finishes
        them later).
        """
        request = self.plan_activate(source, usage_location=usage_location,
                                     licenses=licenses, dry_run=dry_run)
        result = ActivationResult(request)
        if dry_run:
            return result
        sink = on_password or result.passwords.__setitem__
        with self.start(request, sink) as activation:
            result.runs.append(activation.run(concurrency=concurrency, chunk_size=chunk_size,
                                              results=results))
            if (activation.waiting() and mailbox_timeout > 0
                    and activation.wait_for_mailboxes(mailbox_timeout)):
                result.runs.append(activation.finish_waiting(
                    concurrency=concurrency, chunk_size=chunk_size, results=results))
            result.waiting = activation.waiting()
        return result
