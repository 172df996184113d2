"""The CLI's side of ``--distributed``: record the job, send its chunks, follow the store.

The job and every row (without secret columns) are in the shared store before the first
task leaves, so any agent sees the job at once, and ``psbridge jobs resume`` finishes it as a
local run if it stops. Progress comes from the rows' states in the store, the end from the
tasks' results. Ctrl-C marks the job interrupted (workers skip the chunks they had not
started), waits for the chunks in flight, and exits 130 with the resume hint. Audits and
drift checks go as one task per tenant, each followed to its outcome (:func:`tenant_tasks`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from toolkit.core.chunks import chunked
from toolkit.core.config import Profile
from toolkit.core.database import configured_location, is_postgres
from toolkit.core.errors import ConfigError, InputError, Interrupted, PartialFailure
from toolkit.core.jobs import JobPlan, begin_job, final_status, rendered_row_steps
from toolkit.core.journal import OUTCOMES, WAITING, Job, Journal
from toolkit.core.runner import RowResult, RunSummary
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.core.tenants import TenantRef
from toolkit.distributed.app import AUDIT_TASK, CHUNK_TASK, DRIFT_TASK, celery_app

if TYPE_CHECKING:
    from toolkit.tasks.permissions.snapshots import Grant

POLL_SECONDS = 0.5
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
    """Run a plan on the workers; returns like :func:`toolkit.core.jobs.run_plan`."""
    check_distributable(target.profile)
    first, *then = rendered_row_steps(target, catalog, plan)
    if then:
        raise InputError(f"task {plan.task} runs its rows through {len(then) + 1} templates "
                         "on separate connections; --distributed runs one template only",
                         hint="Run it without --distributed.")
    meta = first.meta
    if meta.secret_columns or any(p.secret for p in meta.params.values()):
        raise InputError(f"template {meta.name} takes secrets; --distributed does not send "
                         "secrets through the broker", hint="Run it without --distributed.")
    app = celery_app()
    started = time.monotonic()
    with Journal() as journal:
        job, checked = begin_job(target, catalog, plan, [meta], journal, None)
        for connection in checked:  # signed in, right tenant: the workers connect themselves
            connection.close()
        if on_start is not None:
            on_start(job)
        seen = journal.rows_in(job.id, [*OUTCOMES, WAITING])  # reported by on_start
        status = "failed"
        results: list[Any] = []
        keys: dict[int, Mapping[str, str]] = {}  # each row's naming fields, for --results
        try:
            for chunk in chunked(plan.rows(), chunk_size):
                journal.record_rows(job.id, ((w.row, w.key, w.data) for w in chunk))
                keys.update((w.row, w.keys) for w in chunk)
                payload = {"job": job.id, "profile": target.profile.name,
                           "tenant": target.tenant, "task": plan.task,
                           "template": plan.template, "context": dict(plan.context),
                           "params": dict(plan.params),
                           "rows": [[w.row, w.key, dict(w.data)] for w in chunk]}
                results.append(app.send_task(CHUNK_TASK, args=[payload]))
            summary = _follow(journal, job, results, seen, on_results, started, keys)
            status = final_status(journal, job.id)
            return job, summary
        except KeyboardInterrupt:
            status = "interrupted"
            journal.finish_job(job.id, status)  # workers skip chunks they had not started
            _wait(results, GRACE_SECONDS)
            raise Interrupted("interrupted; chunks not started were not sent, what came "
                              "back is recorded", hint=f"psbridge jobs resume {job.id}") from None
        finally:
            if status != "interrupted":
                journal.finish_job(job.id, status)


def _wait(results: list[Any], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(r.ready() for r in results):
        time.sleep(POLL_SECONDS)


def _follow(journal: Journal, job: Job, results: list[Any], seen: set[int],
            on_results: Callable[[list[RowResult]], None] | None,
            started: float, keys: Mapping[int, Mapping[str, str]]) -> RunSummary:
    """Report rows as their outcomes reach the store, until every chunk task has ended."""
    counts: Counter[str] = Counter()
    failures: list[RowResult] = []
    while True:
        finished = all(r.ready() for r in results)  # read before the rows: none missed
        fresh = [RowResult(o.row, o.status, o.key, o.message, o.error_id,
                           duration=o.duration, keys=keys.get(o.row, {}))
                 for o in journal.outcomes(job.id)
                 if o.row not in seen and o.status in (*OUTCOMES, WAITING)]
        if fresh:
            seen.update(r.row for r in fresh)
            counts.update(r.status for r in fresh)
            failures.extend(r for r in fresh if r.status == "failed")
            if on_results is not None:
                on_results(fresh)
        if finished:
            break
        time.sleep(POLL_SECONDS)
    for result in results:
        if result.failed():
            raise PartialFailure(f"a worker could not run a chunk of job {job.id}: "
                                 f"{result.result!r}",
                                 hint=f"See the worker's log; psbridge jobs resume {job.id}")
    return RunSummary(counts, failures, time.monotonic() - started)


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
