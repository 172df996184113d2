"""Snapshots in the job store, drift between them, and the audit report's summary."""

from __future__ import annotations

from pathlib import Path

from toolkit.tasks.audit_report import AuditReport
from toolkit.tasks.drift import Drift, compare_baseline, compare_snapshots, fix_plan
from toolkit.tasks.snapshots import Grant, Snapshot, SnapshotStore

SALES = "sales@contoso.com"
INFO = "info@contoso.com"
ORPHAN = "S-1-5-21-1-2-3-1013"


def _save(store: SnapshotStore, scope: str, grants: list[Grant]) -> Snapshot:
    snapshot_id = store.begin(tenant="contoso.onmicrosoft.com", profile="lab", scope=scope,
                              noise_kept=False)
    store.add_chunk(snapshot_id, {g.mailbox for g in grants}, grants, {"self": 2}, [])
    return store.finish(snapshot_id, 2)


def test_snapshots_round_trip_and_drift_ignores_noise_and_case(store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        old = _save(store, "all", [Grant(SALES, "Adele@contoso.com", "FullAccess"),
                                   Grant(SALES, "NT AUTHORITY\\SELF", "FullAccess", "self"),
                                   Grant(INFO, ORPHAN, "SendAs", "orphan", "recipient")])
        new = _save(store, "all", [Grant(SALES, "adele@contoso.com", "FullAccess"),
                                   Grant(SALES, "alex@contoso.com", "SendAs", "grant",
                                         "recipient")])
        assert [s.id for s in store.latest("contoso.onmicrosoft.com", 2)] == [new.id, old.id]
        assert store.load(old.id).grants == sorted(old.grants)
    drift = compare_snapshots(old, new)
    assert [(g.trustee, g.right) for g in drift.added] == [("alex@contoso.com", "SendAs")]
    assert [(g.trustee, g.kind) for g in drift.removed] == [(ORPHAN, "orphan")]


def test_a_partial_snapshot_compares_only_the_mailboxes_it_read(store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        whole = _save(store, "all", [Grant(SALES, "a@contoso.com", "FullAccess"),
                                     Grant(INFO, "b@contoso.com", "FullAccess")])
        sales = _save(store, SALES.upper(), [Grant(SALES, "a@contoso.com", "FullAccess")])
    assert not compare_snapshots(whole, sales).found
    approved = [Grant(SALES, "A@contoso.com", "FullAccess"), Grant(INFO, "x@contoso.com", "SendAs")]
    assert not compare_baseline(sales, approved).found


def test_baseline_fix_plan_leaves_orphans_and_other_rights_out(store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        snapshot = _save(store, "all", [
            Grant(SALES, "a@contoso.com", "FullAccess"),
            Grant(SALES, "a@contoso.com", "ReadPermission"),
            Grant(SALES, ORPHAN, "FullAccess", "orphan")])
    drift = compare_baseline(snapshot, [Grant(SALES, "b@contoso.com", "SendOnBehalf")])
    rows, unfixable = fix_plan(drift)
    assert [(r.trustee, r.right, r.action) for r in rows] == [
        ("a@contoso.com", "FullAccess", "revoke"), ("b@contoso.com", "SendOnBehalf", "grant")]
    assert [g.trustee for g in unfixable] == [ORPHAN]


def test_report_summary_counts_rights_delegates_and_findings(store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        snapshot = _save(store, "all", [
            Grant(SALES, "a@contoso.com", "FullAccess"),
            Grant(SALES, "a@contoso.com", "SendAs", "grant", "recipient"),
            Grant(SALES, "b@contoso.com", "FullAccess"),
            Grant(INFO, "a@contoso.com", "SendOnBehalf", "grant", "sendonbehalf"),
            Grant(INFO, ORPHAN, "FullAccess", "orphan")])
    summary = AuditReport(snapshot, snapshot.grants, Drift(), 7).summary()
    assert summary["rights"] == {"FullAccess": 2, "SendAs": 1, "SendOnBehalf": 1}
    assert summary["top_mailboxes"][0] == {"mailbox": SALES, "delegates": 2}
    assert summary["top_trustees"][0] == {"trustee": "a@contoso.com", "mailboxes": 2}
    assert [o["trustee"] for o in summary["orphans"]] == [ORPHAN]
    assert summary["since_previous"]["previous_snapshot"] == 7
