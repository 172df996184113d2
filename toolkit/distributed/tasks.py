"""What a worker runs: one chunk of a bulk job, one tenant's audit or drift check.

A chunk task claims its rows in the store (pending -> sent, atomically), opens the chunk's
sealed secrets (a worker without the CLI's queue key fails the rows, sending nothing), runs
only the rows it claimed through every step of the plan with the same runner a local job
uses, and records every outcome in the store. Rows it finds done were finished by an
earlier delivery; rows it finds *sent* were in flight when an earlier delivery's worker
died: their outcome is unknown, so they are left to ``psbridge jobs resume`` (which
re-reads the tenant or re-runs them when asked), exactly as after a local crash. A task
for a job that is no longer running (the user pressed Ctrl-C) does nothing.

Each worker thread keeps its own target (profile, tenant) between tasks, so a worker
signs in once per tenant, not once per chunk; every connection it opens holds a lease of
its scope (see :mod:`toolkit.distributed.leases`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.core.config import resolve_profile
from toolkit.core.jobs import JobPlan, plan_runner, rendered_row_steps
from toolkit.core.journal import Journal, RowOutcome
from toolkit.core.runner import RowResult, RunnerSettings, WorkRow
from toolkit.core.session import Connection
from toolkit.core.target import Target, open_target
from toolkit.core.templates import TemplateCatalog
from toolkit.distributed.leases import SharedLimits, SharedThrottleLimit, scope_of
from toolkit.distributed.sealing import (
    KEY_MISMATCH,
    KEY_MISMATCH_ID,
    SealBroken,
    Secrets,
    open_chunk,
)

log = logging.getLogger(__name__)
_local = threading.local()


def _limits() -> SharedLimits | None:
    """The shared leases, in the broker's Redis (None with an AMQP broker: no shared cap)."""
    if "limits" not in _local.__dict__:
        from toolkit.distributed.settings import broker_settings

        broker = broker_settings().broker
        _local.limits = (SharedLimits(broker) if broker.startswith(("redis://", "rediss://"))
                         else None)
    limits: SharedLimits | None = _local.limits
    return limits


@dataclass
class LeasedTarget(Target):
    """A worker's target: every connection it opens holds a lease of its scope."""

    limits: SharedLimits | None = None
    cap: int = 3
    services: tuple[str, ...] = ("exchange",)  # what the current task connects to

    @property
    def scope(self) -> str:
        return self.scope_for(self.services)

    def scope_for(self, services: Sequence[str]) -> str:
        """Whom the service counts connections against: the app (app-only sign-in), else
        the account, in the tenant acted on."""
        exchange = self.profile.services.get("exchange")
        principal = (exchange.app_id if exchange and exchange.app_id and not exchange.delegated
                     else self.profile.username)
        return scope_of(self.endpoint.url, principal, self.tenant, services)

    def open_connection(self) -> Connection:
        return self.opener(self.services)()

    def opener(self, services: Sequence[str]) -> Callable[[], Connection]:
        """How a step connecting to ``services`` opens its connections: each holds a
        lease of that step's scope (a Graph step and an Exchange step count apart)."""
        if self.limits is None:
            return super().open_connection
        limits, scope = self.limits, self.scope_for(services)
        return lambda: LeasedConnection(self, limits, scope, self.cap)

    def shared_limit(self) -> SharedThrottleLimit | None:
        """The pipelines-in-flight limit of one chunk, throttled with every worker's."""
        return None if self.limits is None else SharedThrottleLimit(1, self.limits, self.scope)


def _target(profile_name: str, tenant: str | None, services: Sequence[str]) -> LeasedTarget:
    """This thread's target for (profile, tenant), opened (signed in) once."""
    from toolkit.distributed.settings import broker_settings

    targets: dict[tuple[str, str | None], LeasedTarget] = _local.__dict__.setdefault(
        "targets", {})
    key = (profile_name, tenant)
    if key not in targets:
        opened = open_target(resolve_profile(profile_name), tenant)
        fields = {f.name: getattr(opened, f.name) for f in dataclasses.fields(opened)}
        targets[key] = LeasedTarget(**fields, limits=_limits(), cap=broker_settings().connections)
    target = targets[key]
    target.services = tuple(services)
    return target


class LeasedConnection(Connection):
    """A connection that holds a lease of its scope from before it opens until it closes."""

    def __init__(self, target: Target, limits: SharedLimits, scope: str, cap: int):
        self._limits = limits
        self._holder: str | None = limits.acquire(scope, cap)
        try:
            super().__init__(target.endpoint, target.ledger)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        holder, self._holder = self._holder, None
        if holder is not None:
            self._limits.release(holder)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


def run_chunk(payload: Mapping[str, Any], task_id: str | None = None) -> dict[str, Any]:
    """Run the rows of one chunk that are still pending through every step of the plan;
    returns their statuses' counts and their result fields (never secret ones), which the
    CLI reads (an activation's ``Enabled`` hands a password out).

    A copy Redis delivers again while the first delivery runs waits for it and hands back
    its outcome: the task's result keeps the rows' fields, and the CLI does not see the
    chunk end before its rows do.
    """
    return _once(task_id, lambda: _chunk(payload), f"chunk of job {payload['job']}")


def _chunk(payload: Mapping[str, Any]) -> dict[str, Any]:
    job_id = str(payload["job"])
    rows = [WorkRow(int(row), str(key), data) for row, key, data in payload["rows"]]
    with Journal() as journal:
        if journal.job(job_id).status != "running":
            log.info("job %s is no longer running; chunk skipped", job_id)
            return {"counts": {"skipped": len(rows)}}
        claimed = journal.claim(job_id, [w.row for w in rows])
        store = journal.path
        work = [w for w in rows if w.row in claimed]
        if len(work) < len(rows):
            log.info("job %s: %d of %d row(s) already sent or done; not sent again", job_id,
                     len(rows) - len(work), len(rows))
        if not work:
            return {"counts": {}}
        try:
            params, work = _unsealed(payload, work)
        except SealBroken as broken:
            log.error("job %s: %d row(s) failed: %s (%s)", job_id, len(work), KEY_MISMATCH,
                      broken)
            journal.record_outcomes(job_id, [RowOutcome(w.row, "failed", w.key,
                                                        KEY_MISMATCH_ID, KEY_MISMATCH)
                                             for w in work])
            return {"counts": {"failed": len(work)}}
    return _run_steps(payload, job_id, store, params, work)


def _unsealed(payload: Mapping[str, Any], work: list[WorkRow]
              ) -> tuple[dict[str, Any], list[WorkRow]]:
    """The plan's parameters and the rows, with the secrets of a sealed chunk put back."""
    params = dict(payload.get("params", {}))
    token = payload.get("sealed")
    if token is None:
        return params, work
    secret_params, cells = open_chunk(str(token))
    return ({**params, **secret_params},
            [dataclasses.replace(w, data={**w.data, **cells.get(w.row, {})}) for w in work])


def _run_steps(payload: Mapping[str, Any], job_id: str, store: Path | str,
               params: Mapping[str, Any], work: list[WorkRow]) -> dict[str, Any]:
    """Run the claimed rows through the plan's template and its ``then`` steps, each step
    on connections (and leases) of its own services."""
    catalog = TemplateCatalog()
    plan = JobPlan(task=str(payload["task"]), template=str(payload["template"]),
                   then=tuple(payload.get("then", ())), rows=lambda: work, total=len(work),
                   params=params, context=payload.get("context", {}))
    services = catalog.meta(plan.template).services
    target = _target(str(payload["profile"]), payload.get("tenant"), services)
    rendered = rendered_row_steps(target, catalog, plan)
    secret = Secrets.of(step.meta for step in rendered)
    fields: dict[str, dict[str, Any]] = {}

    def came(results: list[RowResult]) -> None:
        for result in results:
            kept, _ = secret.split(result.fields, secret.columns | secret.params)
            fields[str(result.row)] = {k: v for k, v in kept.items()
                                       if v is None or isinstance(v, bool | int | float | str)}

    runner = plan_runner(target, catalog, plan, rendered, store, job_id,
                         RunnerSettings(concurrency=1, chunk_size=len(work)),
                         on_results=came, limit=target.shared_limit(),
                         open_connection=[target.opener(step.meta.services)
                                          for step in rendered])
    summary = runner.run(work)
    return {"counts": dict(summary.counts), "fields": fields}


def audit_tenant(payload: Mapping[str, Any], task_id: str | None = None) -> dict[str, Any]:
    """One tenant's permission audit into a snapshot in the shared store: its id, or the
    error that stopped it (the CLI reports it as a failed tenant, as a local run does).

    An audit outlasts Redis's visibility timeout on a large tenant, and Redis then delivers
    it again while it runs: the deliveries of ``task_id`` take turns and a later one hands
    back the first one's outcome, so a tenant is audited once into one snapshot. A delivery
    whose worker died left no outcome: the next continues its unfinished snapshot.
    """
    return _once(task_id, lambda: _audit(payload),
                 f"audit of {payload.get('tenant') or 'the home tenant'}")


def _once(task_id: str | None, run: Callable[[], dict[str, Any]], what: str
          ) -> dict[str, Any]:
    """``run()``, unless an earlier delivery of ``task_id`` kept its outcome: the
    deliveries take turns (see :meth:`SharedLimits.once`) and a later one hands back the
    first one's outcome."""
    from toolkit.distributed.settings import RESULT_SECONDS

    limits = _limits()
    if limits is None or task_id is None:  # AMQP redelivers only when a worker is lost
        return run()
    with limits.once(task_id, keep_seconds=RESULT_SECONDS) as once:
        if once.kept is not None:
            log.info("%s delivered again; the first delivery's outcome is handed back", what)
            return once.kept
        outcome = run()
        once.keep(outcome)
        return outcome


def _audit(payload: Mapping[str, Any]) -> dict[str, Any]:
    from toolkit.core.errors import PsbridgeError
    from toolkit.tasks.permissions.audit import run_audit
    from toolkit.tasks.permissions.snapshots import SnapshotStore

    tenant = payload.get("tenant")
    try:
        target = _target(str(payload["profile"]), tenant, ("exchange",))
        with SnapshotStore() as store:
            snapshot = run_audit(target, TemplateCatalog(), store,
                                 mailboxes=payload.get("mailboxes"),
                                 include_noise=bool(payload.get("include_noise")),
                                 chunk_size=int(payload["chunk_size"]),
                                 concurrency=int(payload["concurrency"]))
    except PsbridgeError as exc:
        return {"tenant": tenant, "error": exc.message}
    return {"tenant": tenant, "snapshot": snapshot.id}


def drift_tenant(payload: Mapping[str, Any]) -> dict[str, Any]:
    """One tenant's drift, read from the snapshots in the shared store: the newer snapshot's
    id, what was compared and the grants added and removed, or the reason there is
    nothing to compare (the CLI reports it as a tenant not compared, as a local run does)."""
    from toolkit.core.errors import InputError
    from toolkit.core.tenants import TenantRef
    from toolkit.tasks.permissions.drift import drift_of
    from toolkit.tasks.permissions.snapshots import Grant, SnapshotStore

    tenant = str(payload["tenant"])
    key = TenantRef(tenant, str(payload.get("tenant_ids", {}).get(tenant, tenant)))
    listed = payload.get("approved")
    approved = None if listed is None else [Grant(**g) for g in listed]
    try:
        with SnapshotStore() as store:
            found = drift_of(store, key, payload.get("snapshots", []), approved,
                             str(payload.get("baseline")))
    except InputError as exc:
        return {"tenant": tenant, "error": exc.message}
    return {"tenant": tenant, "snapshot": found.snapshot.id, "compared": found.compared,
            "added": [g.as_dict() for g in found.drift.added],
            "removed": [g.as_dict() for g in found.drift.removed]}
