"""``ws.users``: activating users in bulk (match or create, usage location, licences where
seats are free, temporary passwords, aliases once the mailbox exists), licence changes in
bulk, the tenant's SKUs, and password resets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from toolkit.api.jobs import DEFAULT_CHUNK, run_job
from toolkit.api.results import JobRun
from toolkit.core.errors import InputError, PartialFailure
from toolkit.core.journal import Job
from toolkit.core.runner import RowResult
from toolkit.io.password_spool import PasswordSpool, undelivered
from toolkit.tasks.users.countries import usage_location

if TYPE_CHECKING:
    from toolkit.api.workspace import Workspace
    from toolkit.core.jobs import JobPlan
    from toolkit.tasks.users.activation import ActivationInput
    from toolkit.tasks.users.activation_plan import RowPlan
    from toolkit.tasks.users.licences import LicensePlan
    from toolkit.tasks.users.skus import Sku

# ``usage_location`` checks a country code (ValueError saying why not); ``undelivered``
# names the spools of runs that died before handing their passwords over.
__all__ = ["Activation", "ActivationRequest", "ActivationResult", "LicenseRequest",
           "PasswordReset", "Users", "read_activation", "undelivered", "usage_location"]

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


def read_activation(path: Path | str) -> ActivationInput:
    """Read and check an activation CSV: every problem of the file raised at once
    (before anything is read from the tenant); hand the result to ``plan_activate``."""
    from toolkit.tasks.users import activation

    return activation.read_input(Path(path))


@dataclass
class LicenseRequest:
    """A licence change planned against the tenant: the job, and each user's plan."""

    job: JobPlan
    users: list[LicensePlan]

    @property
    def refused(self) -> list[LicensePlan]:
        """Users refused while planning (unknown, no usage location, no free seat)."""
        return [p for p in self.users if p.error]


@dataclass(frozen=True)
class PasswordReset:
    """A password set by ``reset_password``: kept nowhere else."""

    user: str
    password: str = field(repr=False)
    must_change: bool


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
            results: Path | None = None, distributed: bool = False) -> JobRun:
        """The first pass: every row planned; rows with aliases may end ``waiting``.
        ``distributed``: on the Celery workers, the passwords sealed with the queue key."""
        return self._pass(self.request.job, self.request.rows, concurrency=concurrency,
                          chunk_size=chunk_size, results=results, distributed=distributed)

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
        """The second pass: the job's rows without an outcome, planned again now. It runs
        here, also after a distributed first pass: it is a resume of the job (as ``jobs
        resume`` is, always local), for the few rows whose mailbox came late."""
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
              skip_rows: tuple[int, ...] = (), distributed: bool = False) -> JobRun:
        self._plans.update({p.line: p for p in plans})
        self._spool.keep((p.target_upn, p.password) for p in plans
                         if p.password and p.password_generated and not p.error)

        def started(job: Job) -> None:
            self.job = job

        return run_job(self._ws.target, self._ws.catalog, plan, concurrency=concurrency,
                       chunk_size=chunk_size, results_path=results,
                       progress=self._ws.progress, resume=resume, skip_rows=skip_rows,
                       on_start=started, on_results=self._came, distributed=distributed)

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
        already read with :func:`read_activation`), read the tenant and plan each row.
        ``usage_location`` and ``licenses`` apply to rows without."""
        from toolkit.core.jobs import check_role
        from toolkit.tasks.users import activation
        from toolkit.tasks.users.countries import usage_location as country

        data = source if isinstance(source, activation.ActivationInput) else \
            read_activation(source)
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
                 results: Path | None = None, on_password: PasswordSink | None = None,
                 distributed: bool = False) -> ActivationResult:
        """Activate the users of a CSV (UserPrincipalName, DisplayName, FirstName,
        LastName, UsageLocation, Licenses, Password, Aliases, Enabled).

        Generated temporary passwords go to ``on_password(account, password)``, else into
        ``result.passwords``. Rows still waiting for their mailbox after
        ``mailbox_timeout`` seconds are in ``result.waiting`` (``ws.jobs.resume`` finishes
        them later). ``distributed``: the first pass runs on the Celery workers (the
        passwords travel sealed with the queue key; the mailbox wait and the pass that
        finishes the waiting rows run here).
        """
        request = self.plan_activate(source, usage_location=usage_location,
                                     licenses=licenses, dry_run=dry_run)
        result = ActivationResult(request)
        if dry_run:
            return result
        sink = on_password or result.passwords.__setitem__
        with self.start(request, sink) as activation:
            result.runs.append(activation.run(concurrency=concurrency, chunk_size=chunk_size,
                                              results=results, distributed=distributed))
            if (activation.waiting() and mailbox_timeout > 0
                    and activation.wait_for_mailboxes(mailbox_timeout)):
                result.runs.append(activation.finish_waiting(
                    concurrency=concurrency, chunk_size=chunk_size, results=results))
            result.waiting = activation.waiting()
        return result

    def licenses(self) -> list[Sku]:
        """The tenant's SKUs: part number, product name, enabled, consumed and free seats
        (product names from psbridge's table of the common SKUs, else the part number)."""
        from toolkit.tasks.tenant_reads import read_skus

        return read_skus(self._ws.target, self._ws.catalog)

    def plan_license(self, action: str, sku: str, *, users_file: Path | str | None = None,
                     where_license: str | None = None) -> LicenseRequest:
        """Plan adding (``action="add"``) or removing one SKU for the users of a CSV (its
        UserPrincipalName column) or for every holder of ``where_license``. Seats are
        handed out in order: users beyond the free seats are refused before anything
        changes."""
        from toolkit.core.jobs import check_role
        from toolkit.tasks.users import licences

        if action not in licences.ACTIONS:
            raise InputError(f"licence action {action!r}: choose add or remove")
        if (users_file is None) == (where_license is None):
            raise InputError("give exactly one of --users FILE and --where-license SKU")
        path = Path(users_file) if users_file is not None else None
        if path is not None:
            licences.rows_from_file(path)  # every problem of the file, before the tenant
        catalog = self._ws.catalog
        check_role(catalog.meta(licences.TEMPLATE), self._ws.target)
        job, plans = licences.plan_job(self._ws.target, catalog,
                                       licences.Request(action, sku, path, where_license))
        return LicenseRequest(job, plans)

    def license(self, action: str, sku: str, *, users_file: Path | str | None = None,
                where_license: str | None = None, concurrency: int | None = None,
                chunk_size: int = DEFAULT_CHUNK, results: Path | None = None) -> JobRun:
        """Plan (see :meth:`plan_license`) and run a licence change as a resumable job;
        refused users are counted failed."""
        request = self.plan_license(action, sku, users_file=users_file,
                                    where_license=where_license)
        return self.run(request.job, concurrency=concurrency, chunk_size=chunk_size,
                        results=results)

    def run(self, plan: JobPlan, *, concurrency: int | None = None,
            chunk_size: int = DEFAULT_CHUNK, results: Path | None = None) -> JobRun:
        """Run a planned job (a licence change's ``request.job``)."""
        return run_job(self._ws.target, self._ws.catalog, plan, concurrency=concurrency,
                       chunk_size=chunk_size, results_path=results,
                       progress=self._ws.progress)

    def reset_password(self, user: str, *, temporary: bool = False) -> PasswordReset:
        """Give ``user`` (a UPN) a new generated password (``temporary``: to be changed at
        the next sign-in). Allowed on helpdesk profiles. An unknown user is an
        :class:`InputError` naming the closest one; nothing is changed then."""
        from toolkit.core.jobs import run_once
        from toolkit.tasks.lookups import unknown_address
        from toolkit.tasks.tenant_reads import read_users
        from toolkit.tasks.users.activation_plan import generate_password

        password = generate_password()
        target, catalog = self._ws.target, self._ws.catalog
        if not read_users(target, catalog, [user]):
            known = [u.upn for u in read_users(target, catalog).values()]
            raise unknown_address("user", user, target.tenant or "the tenant", known,
                                  hint="Nothing was changed. Give the user's UPN.")
        result = run_once(target, catalog, "graph/reset-password",
                          {"UserId": user, "Password": password, "ForceChange": temporary})
        if result.errors:
            raise PartialFailure(f"{user}: {result.errors[0].message}",
                                 hint="Nothing was changed. Check the user name.")
        return PasswordReset(user, password, temporary)
