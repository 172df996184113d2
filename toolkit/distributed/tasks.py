"""What a worker runs: one chunk of a bulk job, or one tenant's audit.

A chunk task claims its rows in the store (pending -> sent, atomically), runs only the rows
it claimed through the same runner a local job uses, and records every outcome in the
store. Rows it finds done were finished by an earlier delivery; rows it finds *sent* were
in flight when an earlier delivery's worker died: their outcome is unknown, so they are left
to ``psbridge jobs resume`` (which re-reads the tenant or re-runs them when asked), exactly
as after a local crash. A task for a job that is no longer running (the user pressed
Ctrl-C) does nothing.

Each worker thread keeps its own target (profile, tenant) between tasks, so a worker
signs in once per tenant, not once per chunk; every connection it opens holds a lease of
its scope (see :mod:`toolkit.distributed.leases`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from toolkit.core.config import resolve_profile
from toolkit.core.jobs import JobPlan, plan_runner, rendered_rows_template
from toolkit.core.journal import Journal
from toolkit.core.runner import RunnerSettings, WorkRow
from toolkit.core.session import Connection
from toolkit.core.target import Target, open_target
from toolkit.core.templates import TemplateCatalog
from toolkit.distributed.leases import SharedLimits, SharedThrottleLimit, scope_of

log = logging.getLogger(__name__)
_local = threading.local()


def _target(profile_name: str, tenant: str | None) -> Target:
    targets: dict[tuple[str, str | None], Target] = _local.__dict__.setdefault("targets", {})
    key = (profile_name, tenant)
    if key not in targets:
        targets[key] = open_target(resolve_profile(profile_name), tenant)
    return targets[key]


def _limits() -> SharedLimits | None:
    """The shared leases, in the broker's Redis (None with an AMQP broker: no shared cap)."""
    if "limits" not in _local.__dict__:
        from toolkit.distributed.app import broker_settings

        broker = broker_settings()[0]
        _local.limits = (SharedLimits(broker) if broker.startswith(("redis://", "rediss://"))
                         else None)
    limits: SharedLimits | None = _local.limits
    return limits


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


def leased_opener(target: Target, services: Sequence[str]
                  ) -> tuple[Callable[[], Connection], SharedThrottleLimit | None]:
    """How a worker opens connections to a target, and its shared throttling limit."""
    from toolkit.distributed.app import broker_settings

    limits = _limits()
    if limits is None:
        return target.open_connection, None
    cap = broker_settings()[1]
    scope = scope_of(target.endpoint.url, target.profile.username, target.tenant, services)
    return (lambda: LeasedConnection(target, limits, scope, cap),
            SharedThrottleLimit(1, limits, scope))


def run_chunk(payload: Mapping[str, Any]) -> dict[str, int]:
    """Run the rows of one chunk that are still pending; returns their statuses' counts."""
    job_id = str(payload["job"])
    rows = [WorkRow(int(row), str(key), data) for row, key, data in payload["rows"]]
    with Journal() as journal:
        if journal.job(job_id).status != "running":
            log.info("job %s is no longer running; chunk skipped", job_id)
            return {"skipped": len(rows)}
        claimed = journal.claim(job_id, [w.row for w in rows])
        store = journal.path
    work = [w for w in rows if w.row in claimed]
    if len(work) < len(rows):
        log.info("job %s: %d of %d row(s) already sent or done; not sent again", job_id,
                 len(rows) - len(work), len(rows))
    if not work:
        return {}
    target = _target(str(payload["profile"]), payload.get("tenant"))
    catalog = TemplateCatalog()
    plan = JobPlan(task=str(payload["task"]), template=str(payload["template"]),
                   rows=lambda: work, total=len(work), params=payload.get("params", {}),
                   context=payload.get("context", {}))
    rendered = rendered_rows_template(target, catalog, plan)
    open_connection, limit = leased_opener(target, rendered.meta.services)
    runner = plan_runner(target, catalog, plan, rendered, store, job_id,
                         RunnerSettings(concurrency=1, chunk_size=len(work)),
                         limit=limit, open_connection=open_connection)
    summary = runner.run(work)
    return dict(summary.counts)


def audit_tenant(payload: Mapping[str, Any]) -> dict[str, Any]:
    """One tenant's permission audit, into the shared store (see toolkit.cli.perms_audit)."""
    from toolkit.distributed.audits import audit_one_tenant

    return audit_one_tenant(payload)
