"""The CLI's side of ``--distributed``: record the job, send its chunks, follow the store.

The job and every row (without secret columns: those travel sealed, see
:mod:`toolkit.distributed.sealing`) are in the shared store before the first task leaves,
so any agent sees the job at once, and ``psbridge jobs resume`` finishes it as a local run
if it stops. Progress comes from the rows' states in the store (a row is reported once its
chunk task has ended: the task's result carries the rows' result fields), the end from the
tasks' results. Ctrl-C marks the job interrupted (workers skip the chunks they had not
started), waits for the chunks in flight, reports what came back and exits 130 with the
resume hint. Audits and drift checks go as one task per tenant, each followed to its
outcome (:func:`tenant_tasks`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.core.chunks import chunked
from toolkit.core.config import Profile
from toolkit.core.database import configured_location, is_postgres
from toolkit.core.errors import ConfigError, Interrupted, PartialFailure
from toolkit.core.jobs import JobPlan, begin_job, final_status, rendered_row_steps
from toolkit.core.journal import OUTCOMES, WAITING, Job, Journal
from toolkit.core.runner import RowResult, RunSummary, WorkRow
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.core.tenants import TenantRef
from toolkit.distributed.app import AUDIT_TASK, CHUNK_TASK, DRIFT_TASK, celery_app
from toolkit.distributed.sealing import Secrets, require_key, seal_chunk

if TYPE_CHECKING:
    from toolkit.tasks.permissions.snapshots import Grant

POLL_SECONDS = 0.5
POLL_WINDOW = 64  # chunk tasks asked per poll whether they ended
GRACE_SECONDS = 60.0  # how long Ctrl-C waits for chunks in flight


def require_shared_store() -> None:
    """Workers and the CLI must share a PostgreSQL store: the local SQLite file is private."""
    if not is_postgres(configured_location()):
        raise ConfigError("--distributed and 'psbridge worker' need a shared job store",
                          hint='Add [store] url = "postgresql://..." and run '
                          "'psbridge store migrate' (see README, Teams and MSPs).")


def check_distributable(profile: Profile) -> None:
    """Workers need a broker, a store and a management host they can all reach (checked
    before anything is opened or sent)."""
    from toolkit.distributed.settings import broker_settings

    broker_settings()
    require_shared_store()
    if profile.is_sandbox:
        raise ConfigError("--distributed cannot use the embedded sandbox (it lives in this "
                          "process)", hint="Use a profile with an endpoint, e.g. one "
                          "written by 'psbridge sandbox serve --write-profile NAME'.")


def run_plan_distributed(
    target: Target, catalog: TemplateCatalog, plan: JobPlan, *, chunk_size: int,
    on_results: Callable[[list[RowResult]], None] | None = None,
    on_start: Callable[[Job], None] | None = None,
) -> tuple[Job, RunSummary]:
    """Run a plan on the workers; returns like :func:`toolkit.core.jobs.run_plan`.

    Every step of the plan (its template, then ``plan.then``) runs on the worker that took
    the chunk. Secret cells and parameters travel sealed with the queue key
    (:mod:`toolkit.distributed.sealing`); without a key such a plan is refused before
    anything is changed or sent.
    """
    check_distributable(target.profile)
    metas = [step.meta for step in rendered_row_steps(target, catalog, plan)]
    secrets = Secrets.of(metas)
    key = require_key(f"task {plan.task}") if secrets else None
    app = celery_app()
    started = time.monotonic()
    with Journal() as journal:
        job, checked = begin_job(target, catalog, plan, metas, journal, None)
        for connection in checked:  # signed in, right tenant: the workers connect themselves
            connection.close()
        if on_start is not None:
            on_start(job)
        seen = journal.rows_in(job.id, [*OUTCOMES, WAITING])  # reported by on_start
        status = "failed"
        sent = Sent()
        try:
            for chunk in chunked(plan.rows(), chunk_size):
                rows = [(w.row, w.key, secrets.split(w.data, secrets.columns)[0])
                        for w in chunk]
                journal.record_rows(job.id, rows)
                payload = _payload(job, target, plan, secrets, rows)
                if key is not None:
                    payload["sealed"] = seal_chunk(key, secrets, plan.params, chunk)
                sent.add(app.send_task(CHUNK_TASK, args=[payload]), chunk)
            summary = _follow(journal, job, sent, seen, on_results, started)
            status = final_status(journal, job.id)
            return job, summary
        except KeyboardInterrupt:
            status = "interrupted"
            journal.finish_job(job.id, status)  # workers skip chunks they had not started
            _wait(sent.results, GRACE_SECONDS)
            _report(journal, job, sent, seen, on_results,  # what came back, as a local run
                    [r for r in sent.results if r.ready()])
            raise Interrupted("interrupted; chunks not started were not sent, what came "
                              "back is recorded", hint=f"psbridge jobs resume {job.id}") from None
        finally:
            if status != "interrupted":
                journal.finish_job(job.id, status)


def _payload(job: Job, target: Target, plan: JobPlan, secrets: Secrets,
             rows: Sequence[tuple[int, str, Mapping[str, Any]]]) -> dict[str, Any]:
    """A chunk task's payload, in plain text: nothing secret (that goes sealed)."""
    return {"job": job.id, "profile": target.profile.name, "tenant": target.tenant,
            "task": plan.task, "template": plan.template, "then": list(plan.then),
            "context": dict(plan.context),
            "params": secrets.split(plan.params, secrets.params)[0],
            "rows": [[row, key, dict(data)] for row, key, data in rows]}


@dataclass
class Sent:
    """The chunk tasks sent, and which task carries each row (with its naming fields)."""

    results: list[Any] = field(default_factory=list)
    rows_of: dict[str, list[int]] = field(default_factory=dict)  # by task id
    keys: dict[int, Mapping[str, str]] = field(default_factory=dict)

    def add(self, result: Any, chunk: Sequence[WorkRow]) -> None:
        self.results.append(result)
        self.rows_of[result.id] = [w.row for w in chunk]
        for w in chunk:
            self.keys[w.row] = w.keys


def _wait(results: list[Any], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(r.ready() for r in results):
        time.sleep(POLL_SECONDS)


def _follow(journal: Journal, job: Job, sent: Sent, seen: set[int],
            on_results: Callable[[list[RowResult]], None] | None,
            started: float) -> RunSummary:
    """Report rows as their outcomes reach the store, until every chunk task has ended."""
    counts: Counter[str] = Counter()
    failures: list[RowResult] = []
    running = list(sent.results)
    while running:
        # The oldest tasks still running are asked whether they ended (a read of the
        # result backend each), never all of a large job's tasks at every poll; a poll whose
        # tasks had all ended goes straight on to the next ones.
        window = running[:POLL_WINDOW]
        ended = [r for r in window if r.ready()]
        if ended:
            gone = {r.id for r in ended}
            running = [r for r in running if r.id not in gone]
            fresh = _report(journal, job, sent, seen, on_results, ended)
            counts.update(r.status for r in fresh)
            failures.extend(r for r in fresh if r.status == "failed")
        if len(ended) < len(window):
            time.sleep(POLL_SECONDS)
    for result in sent.results:
        if result.failed():
            raise PartialFailure(f"a worker could not run a chunk of job {job.id}: "
                                 f"{result.result!r}",
                                 hint=f"See the worker's log; psbridge jobs resume {job.id}")
    return RunSummary(counts, failures, time.monotonic() - started)


def _report(journal: Journal, job: Job, sent: Sent, seen: set[int],
            on_results: Callable[[list[RowResult]], None] | None,
            ended: Sequence[Any]) -> list[RowResult]:
    """Hand ``on_results`` the rows of these ended chunk tasks whose outcome is in the
    store and that were not reported yet: the task's result holds the rows' result fields
    (an activation's ``Enabled``, which hands a password out), never secret ones. A task
    ends after its rows' outcomes are recorded; rows it left *sent* (a dead worker's) stay
    unknown."""
    fields: dict[int, Mapping[str, Any]] = {}  # each row of the ended tasks: its fields
    for task in ended:
        returned = _fields(task)
        fields.update((row, returned.get(str(row), {})) for row in sent.rows_of[task.id])
    fresh = [RowResult(o.row, o.status, o.key, o.message, o.error_id, fields=fields[o.row],
                       duration=o.duration, keys=sent.keys.get(o.row, {}))
             for o in journal.outcomes(job.id, fields)
             if o.row not in seen and o.status in (*OUTCOMES, WAITING)]
    if fresh:
        seen.update(r.row for r in fresh)
        if on_results is not None:
            on_results(fresh)
    return fresh


def _fields(task: Any) -> Mapping[str, Any]:
    """The result fields of each row of an ended chunk task, by row number (none when
    the task failed or ran nothing)."""
    outcome = task.result if task.successful() else None
    return outcome.get("fields", {}) if isinstance(outcome, Mapping) else {}


def audit_tenants_distributed(
    profile: Profile, tenants: Sequence[str | None], *, mailboxes: Sequence[str] | None,
    include_noise: bool, concurrency: int | None, chunk_size: int,
    on_done: Callable[[Mapping[str, Any]], None],
) -> dict[str | None, Mapping[str, Any]]:
    """Audit each tenant on the workers (one task per tenant, snapshots in the shared store).

    Returns each tenant's outcome, ``{"snapshot": id}`` or ``{"error": message}``, and hands
    each to ``on_done`` as it arrives. Ctrl-C stops following; audits already running finish
    their snapshot, and the next audit of a tenant continues an unfinished one.
    """
    return tenant_tasks(
        profile, tenants, AUDIT_TASK, {
            "mailboxes": mailboxes, "include_noise": include_noise, "chunk_size": chunk_size,
            "concurrency": concurrency or profile.max_runspaces},
        on_done=on_done, what="tenant audit(s); they finish on the workers",
        hint="'psbridge perms snapshots' lists the snapshots; run the audit again to "
        "continue an unfinished one.")


def drift_tenants_distributed(
    profile: Profile, tenants: Sequence[TenantRef], *, snapshots: Sequence[int],
    approved: Sequence[Grant] | None, baseline: str,
) -> dict[str | None, Mapping[str, Any]]:
    """Compare each tenant's snapshots (or its latest with the ``approved`` grants of the
    file ``baseline``) on the workers, one task per tenant, from the shared store.

    Returns each tenant's outcome, by its name: the drift (its newer snapshot, what was
    compared, the grants added and removed) or ``{"error": message}``. Nothing changes anywhere, so
    Ctrl-C simply stops following.
    """
    return tenant_tasks(
        profile, [t.name for t in tenants], DRIFT_TASK, {
            "tenant_ids": {t.name: t.id for t in tenants},
            "snapshots": list(snapshots), "baseline": baseline,
            "approved": None if approved is None else [g.as_dict() for g in approved]},
        on_done=lambda outcome: None, what="tenant drift check(s)",
        hint="Run the same 'perms diff' again.")


def tenant_tasks(
    profile: Profile, tenants: Sequence[str | None], task: str, fields: Mapping[str, Any], *,
    on_done: Callable[[Mapping[str, Any]], None], what: str, hint: str,
) -> dict[str | None, Mapping[str, Any]]:
    """Send ``task`` once per tenant (its payload: the profile, the tenant and ``fields``)
    and collect each tenant's outcome as it arrives, handing it to ``on_done``; a task
    that failed on its worker is the outcome ``{"tenant": t, "error": message}``.
    Ctrl-C stops following (``what`` and ``hint`` tell the user what goes on)."""
    check_distributable(profile)
    app = celery_app()
    pending = {
        tenant: app.send_task(task, args=[{
            "profile": profile.name, "tenant": tenant, **fields}])
        for tenant in tenants
    }
    outcomes: dict[str | None, Mapping[str, Any]] = {}
    try:
        while pending:
            for tenant, result in list(pending.items()):
                if not result.ready():
                    continue
                del pending[tenant]
                failure = {"tenant": tenant, "error": f"the worker failed: {result.result!r}"}
                outcome = (result.result if result.successful()
                           and isinstance(result.result, Mapping) else failure)
                outcomes[tenant] = outcome
                on_done(outcome)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        raise Interrupted(f"stopped following {len(pending)} {what}", hint=hint) from None
    return outcomes
