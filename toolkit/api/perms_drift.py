"""``ws.perms.drift``: grants added and removed between two snapshots, or against an
approved baseline; the plan that undoes them; a webhook told about them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
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
                      on_note: Note | None = None) -> Iterator[TenantDrift | TenantFailure]:
        """:meth:`drift` for the tenant, or with ``all_tenants`` for the profile's own
        and every customer tenant it lists (their last snapshots), yielded one by one; a
        tenant that cannot be compared is then a :class:`TenantFailure`. ``report``
        (.json, .csv, .html) is written for each (named ``<stem>-<tenant>`` then)."""
        from toolkit.io.perm_reports import write_permission_report

        approved = _read_baseline(baseline)
        tenants = [self.snapshot_tenant()]
        if all_tenants:
            tenants += [self.tenant_named(name) for name in self.customer_tenants(on_note)]
        for tenant in tenants:
            try:
                found = self._drift_of(tenant, snapshots, approved, baseline)
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
        from toolkit.tasks.permissions.drift import compare_baseline, compare_snapshots
        from toolkit.tasks.permissions.snapshots import SnapshotStore

        with SnapshotStore() as store:
            if snapshots:
                loaded = [store.load(i, rows=False) for i in snapshots]
                for snapshot in loaded:
                    snapshot.require_complete()
            else:
                loaded = list(reversed(store.recent(tenant.id,
                                                    1 if approved is not None else 2)))
            if approved is not None:
                if not loaded:
                    raise InputError(f"no permission snapshot of {tenant.name} yet",
                                     hint="Run 'psbridge perms audit --all' first.")
                newer = store.load(loaded[-1].id)
                return TenantDrift(tenant.name, compare_baseline(newer, approved), newer,
                                   f"snapshot {newer.id} against {baseline}")
            if len(loaded) < 2:
                raise InputError(f"{tenant.name} has {len(loaded)} permission snapshot(s); diff "
                                 "needs two", hint="Run 'psbridge perms audit --all' again "
                                 "later.")
            older, newer = loaded
            return TenantDrift(tenant.name, compare_snapshots(store, older, newer), newer,
                               f"snapshot {older.id} -> {newer.id}")

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


def _read_baseline(path: Path | None) -> list[Grant] | None:
    from toolkit.tasks.permissions.drift import read_baseline

    return read_baseline(path) if path is not None else None
