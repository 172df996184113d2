"""``ws.perms.drift``: grants added and removed between two snapshots, or against an
approved baseline; the plan that undoes them; a webhook told about them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.api.perms_snapshots import GRANT_COLUMNS, Note, PermissionSnapshots, TenantFailure
from toolkit.core.errors import ConnectionFailed, InputError

if TYPE_CHECKING:
    from toolkit.core.tenants import TenantRef
    from toolkit.tasks.permissions.drift import Drift
    from toolkit.tasks.permissions.snapshots import Grant, Snapshot

DRIFT_COLUMNS = ("change", *GRANT_COLUMNS)
FIX_COLUMNS = ("Mailbox", "Trustee", "Right", "Action")  # the 'perms apply' CSV format
WEBHOOK_CHANGES = 500  # changes a webhook post lists at most
WEBHOOK_TIMEOUT = 15.0  # seconds


@dataclass
class TenantDrift:
    """One tenant's drift: ``compared`` names what was compared (two snapshots, or the
    newest against a baseline), ``snapshot`` is the newer one, ``report`` the file written."""

    tenant: str
    drift: Drift
    snapshot: Snapshot
    compared: str
    report: Path | None = None

    def rows(self) -> list[dict[str, str]]:
        """One row per change, with :data:`DRIFT_COLUMNS`: added first, then removed."""
        return self.drift.rows()

    def summary(self) -> dict[str, Any]:
        return {"tenant": self.snapshot.tenant, "compared": self.compared,
                **self.drift.summary()}


@dataclass
class FixPlan:
    """The rows that undo a drift (``perms apply`` format, :data:`FIX_COLUMNS`), the
    grants no row can name (a delegate Exchange could not resolve), the CSV written."""

    rows: list[dict[str, str]] = field(default_factory=list)
    unfixable: list[Grant] = field(default_factory=list)
    path: Path | None = None


class PermissionDrift(PermissionSnapshots):
    """Drift of ``ws.perms``, read from the snapshots in the job store (no connection)."""

    def drift(self, snapshots: Sequence[int] = (), *, baseline: Path | None = None
              ) -> TenantDrift:
        """The drift between two snapshots (ids; none: the tenant's last two), or with
        ``baseline`` (a 'perms apply' CSV of approved grants) between it and one snapshot
        (none: the latest): ``added`` is then held but not approved, ``removed`` approved
        but missing. Raises :class:`InputError` when there is nothing to compare."""
        approved = _read_baseline(baseline)
        return self._drift_of(self.snapshot_tenant(), snapshots, approved, baseline)

    def drift_tenants(self, snapshots: Sequence[int] = (), *, baseline: Path | None = None,
                      all_tenants: bool = False, report: Path | None = None,
                      distributed: bool = False, on_note: Note | None = None
                      ) -> Iterator[TenantDrift | TenantFailure]:
        """:meth:`drift` for the tenant, or with ``all_tenants`` for the profile's own
        and every customer tenant it lists (their last snapshots), yielded one by one; a
        tenant that cannot be compared is then a :class:`TenantFailure`. ``report``
        (.json, .csv, .html) is written for each (named ``<stem>-<tenant>`` then).
        ``distributed``: compared on the Celery workers, one task per tenant, from the
        shared store; reports and results are the same as a local run's."""
        from toolkit.io.perm_reports import write_permission_report

        approved = _read_baseline(baseline)
        tenants = [self.snapshot_tenant()]
        if all_tenants:
            tenants += [self.tenant_named(name) for name in self.customer_tenants(on_note)]
        remote: dict[str | None, Mapping[str, Any]] = {}
        if distributed:
            from toolkit.distributed.submit import drift_tenants_distributed

            remote = drift_tenants_distributed(self._ws.profile, tenants,
                                               snapshots=list(snapshots), approved=approved,
                                               baseline=str(baseline))
        for tenant in tenants:
            try:
                found = (_remote_drift(remote[tenant.name]) if distributed
                         else self._drift_of(tenant, snapshots, approved, baseline))
            except InputError as exc:
                if not all_tenants:
                    raise
                yield TenantFailure(tenant.name, exc)
                continue
            if report is not None:
                found.report = (report.with_name(f"{report.stem}-{tenant.name}{report.suffix}")
                                if all_tenants else report)
                write_permission_report(
                    found.report, f"Permission drift of {found.snapshot.tenant}: "
                    f"{found.compared}", {"snapshot": found.snapshot.summary(),
                                          **found.summary()},
                    found.rows(), DRIFT_COLUMNS)
            yield found

    def _drift_of(self, tenant: TenantRef, snapshots: Sequence[int],
                  approved: Sequence[Grant] | None, baseline: Path | None) -> TenantDrift:
        from toolkit.tasks.permissions.drift import drift_of
        from toolkit.tasks.permissions.snapshots import SnapshotStore

        with SnapshotStore() as store:
            found = drift_of(store, tenant, snapshots, approved, str(baseline))
        return TenantDrift(tenant.name, found.drift, found.snapshot, found.compared)

    def fix_plan(self, drift: Drift, path: Path | None = None) -> FixPlan:
        """The changes that undo ``drift``, written to ``path`` (a CSV 'perms apply' reads)
        when there are any."""
        from toolkit.io.reports import write_csv
        from toolkit.tasks.permissions.drift import fix_plan

        rows, unfixable = fix_plan(drift)
        plan = FixPlan([r.as_dict() for r in rows], unfixable)
        if path is not None and plan.rows:
            write_csv(path, plan.rows, FIX_COLUMNS)
            plan.path = path
        return plan

    def notify(self, url: str, found: TenantDrift) -> None:
        """POST a JSON summary of the drift (and its first changes) to ``url``; raises
        :class:`ConnectionFailed` when the post fails."""
        payload = {**found.summary(), "changes": found.rows()[:WEBHOOK_CHANGES]}
        request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                         method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "psbridge"})
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
                response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise ConnectionFailed(f"the webhook {url} failed: {exc}") from exc


def _remote_drift(outcome: Mapping[str, Any]) -> TenantDrift:
    """A tenant's drift as a worker reported it (its newer snapshot read from the shared
    store); a tenant the worker could not compare raises :class:`InputError`, as locally."""
    from toolkit.tasks.permissions.drift import Drift
    from toolkit.tasks.permissions.snapshots import Grant, SnapshotStore

    if "error" in outcome:
        raise InputError(str(outcome["error"]))
    with SnapshotStore() as store:
        snapshot = store.load(int(outcome["snapshot"]), rows=False)
    drift = Drift([Grant(**g) for g in outcome["added"]], [Grant(**g) for g in outcome["removed"]])
    return TenantDrift(str(outcome["tenant"]), drift, snapshot, str(outcome["compared"]))


def _read_baseline(path: Path | None) -> list[Grant] | None:
    from toolkit.tasks.permissions.drift import read_baseline

    return read_baseline(path) if path is not None else None
