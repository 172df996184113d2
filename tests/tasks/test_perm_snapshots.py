"""Snapshots in the job store, drift between them, and the audit report's summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from identity_answers import OpenIdConfigurations

from toolkit.core.errors import InputError
from toolkit.core.tenants import TenantResolver
from toolkit.sandbox.tenant.demo import CONTOSO_ID, FABRIKAM_ID
from toolkit.tasks.permissions.audit_report import AuditReport
from toolkit.tasks.permissions.drift import Drift, compare_baseline, compare_snapshots, fix_plan
from toolkit.tasks.permissions.snapshots import (
    Grant,
    Snapshot,
    SnapshotStore,
    tag_stored_tenants,
)

SALES = "sales@contoso.com"
INFO = "info@contoso.com"
ORPHAN = "S-1-5-21-1-2-3-1013"


def _save(store: SnapshotStore, scope: str, grants: list[Grant]) -> Snapshot:
    snapshot_id = store.begin(tenant="contoso.onmicrosoft.com", tenant_id=CONTOSO_ID,
                              profile="lab", scope=scope, noise_kept=False)
    store.add_chunk(snapshot_id, [SALES, INFO], grants, {"self": 2}, [])
    store.finish(snapshot_id, 2)
    return store.load(snapshot_id)


def test_snapshots_round_trip_and_drift_ignores_noise_and_case(store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        old = _save(store, "all", [Grant(SALES, "Adele@contoso.com", "FullAccess"),
                                   Grant(SALES, "NT AUTHORITY\\SELF", "FullAccess", "self"),
                                   Grant(INFO, ORPHAN, "SendAs", "orphan", "recipient")])
        new = _save(store, "all", [Grant(SALES, "adele@contoso.com", "FullAccess"),
                                   Grant(SALES, "alex@contoso.com", "SendAs", "grant",
                                         "recipient")])
        assert [s.id for s in store.latest(CONTOSO_ID, 2)] == [new.id, old.id]
        assert store.load(old.id).grants == sorted(old.grants)
        drift = compare_snapshots(store, old, new)
    assert [(g.trustee, g.right) for g in drift.added] == [("alex@contoso.com", "SendAs")]
    assert [(g.trustee, g.kind) for g in drift.removed] == [(ORPHAN, "orphan")]


def test_the_snapshot_list_counts_each_snapshots_grants_and_orphans(
        store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        first = _save(store, "all", [Grant(SALES, "a@contoso.com", "FullAccess"),
                                     Grant(SALES, "b@contoso.com", "SendAs"),
                                     Grant(INFO, ORPHAN, "SendAs", "orphan", "recipient")])
        second = _save(store, "all", [Grant(SALES, "a@contoso.com", "FullAccess")])
        listed = {s.id: s.summary() for s in store.recent(CONTOSO_ID)}
    assert (listed[first.id]["grants"], listed[first.id]["orphans"]) == (2, 1)
    assert (listed[second.id]["grants"], listed[second.id]["orphans"]) == (1, 0)
    assert listed[first.id] == first.summary()


def test_a_partial_snapshot_compares_only_the_mailboxes_it_read(store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        whole = _save(store, "all", [Grant(SALES, "a@contoso.com", "FullAccess"),
                                     Grant(INFO, "b@contoso.com", "FullAccess")])
        sales = _save(store, SALES.upper(), [Grant(SALES, "a@contoso.com", "FullAccess")])
        assert not compare_snapshots(store, whole, sales).found
    approved = [Grant(SALES, "A@contoso.com", "FullAccess"), Grant(INFO, "x@contoso.com", "SendAs")]
    assert not compare_baseline(sales, approved).found


def test_baseline_fix_plan_revokes_orphans_by_sid_and_leaves_other_rights_out(
        store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        snapshot = _save(store, "all", [
            Grant(SALES, "a@contoso.com", "FullAccess"),
            Grant(SALES, "a@contoso.com", "ReadPermission"),
            Grant(SALES, ORPHAN, "FullAccess", "orphan"),
            Grant(SALES, "Old Delegate", "SendOnBehalf", "unresolved", "sendonbehalf")])
    drift = compare_baseline(snapshot, [Grant(SALES, "b@contoso.com", "SendOnBehalf")])
    rows, unfixable = fix_plan(drift)
    assert sorted((r.trustee, r.right, r.action) for r in rows) == [
        (ORPHAN, "FullAccess", "revoke"), ("a@contoso.com", "FullAccess", "revoke"),
        ("b@contoso.com", "SendOnBehalf", "grant")]
    assert [g.trustee for g in unfixable] == ["Old Delegate"]


def test_report_summary_counts_rights_delegates_and_findings(store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        snapshot = _save(store, "all", [
            Grant(SALES, "a@contoso.com", "FullAccess"),
            Grant(SALES, "a@contoso.com", "SendAs", "grant", "recipient"),
            Grant(SALES, "b@contoso.com", "FullAccess"),
            Grant(INFO, "a@contoso.com", "SendOnBehalf", "grant", "sendonbehalf"),
            Grant(INFO, ORPHAN, "FullAccess", "orphan")])
    summary = AuditReport(snapshot, lambda: snapshot.grants, Drift(), 7).summary()
    assert summary["rights"] == {"FullAccess": 2, "SendAs": 1, "SendOnBehalf": 1}
    assert summary["top_mailboxes"][0] == {"mailbox": SALES, "delegates": 2}
    assert summary["top_trustees"][0] == {"trustee": "a@contoso.com", "mailboxes": 2}
    assert [o["trustee"] for o in summary["orphans"]] == [ORPHAN]
    assert summary["since_previous"]["previous_snapshot"] == 7


def test_group_members_are_kept_with_the_snapshot_and_rewritten_on_retry(
        store_location: Path | str) -> None:
    """An audit that stopped after reading the mailboxes reads the groups again on the next
    run: the second recording replaces the first, and rows of groups become kind 'group'."""
    from toolkit.tasks.permissions.group_access import access_of, expand_groups

    team = "Sales.Team@contoso.com"
    with SnapshotStore(store_location) as store:
        snapshot_id = store.begin(tenant="contoso.onmicrosoft.com", tenant_id=CONTOSO_ID, profile="lab", scope="all",
                                  noise_kept=False)
        store.add_chunk(snapshot_id, [SALES, INFO],
                        [Grant(SALES, team, "FullAccess"), Grant(INFO, "adele@contoso.com",
                                                                 "SendAs", "grant", "recipient"),
                         Grant(INFO, "empty.team@contoso.com", "FullAccess")], {}, [])
        assert sorted(store.trustees(snapshot_id)) == [
            "Sales.Team@contoso.com", "adele@contoso.com", "empty.team@contoso.com"]
        store.add_groups(snapshot_id, {"sales.team@contoso.com": ["x@contoso.com"]})
        store.add_groups(snapshot_id, {"sales.team@contoso.com": ["adele@contoso.com",
                                                                   "alex@contoso.com"],
                                       "empty.team@contoso.com": []})
        store.finish(snapshot_id, 2)
        snapshot = store.load(snapshot_id)
    assert [g.kind for g in snapshot.grants] == ["grant", "group", "group"]
    assert snapshot.groups == {"empty.team@contoso.com": [],
                               "sales.team@contoso.com": ["adele@contoso.com",
                                                          "alex@contoso.com"]}
    assert snapshot.summary()["grants"] == 3
    assert [(r["mailbox"], r["right"], r["via"]) for r in
            access_of(snapshot.grants, snapshot.groups, "ADELE@contoso.com")] == [
        (INFO, "SendAs", ""), (SALES, "FullAccess", team)]
    assert [(r["trustee"], r["via"]) for r in expand_groups(snapshot.grants, snapshot.groups)
            ] == [("adele@contoso.com", ""), ("empty.team@contoso.com", ""),
                  ("adele@contoso.com", team), ("alex@contoso.com", team)]


def test_a_snapshot_with_a_failed_mailbox_is_incomplete_and_never_compared(
        store_location: Path | str) -> None:
    with SnapshotStore(store_location) as store:
        complete = _save(store, "all", [Grant(SALES, "adele@contoso.com", "FullAccess"),
                                        Grant(INFO, "alex@contoso.com", "FullAccess")])
        started = store.begin(tenant="contoso.onmicrosoft.com", tenant_id=CONTOSO_ID, profile="lab", scope="all",
                              noise_kept=False)
        store.add_chunk(started, [SALES, INFO], [Grant(SALES, "adele@contoso.com",
                                                       "FullAccess")], {},
                        [{"mailbox": INFO, "error": "RetriesExhausted", "message": "throttled"}])
        incomplete = store.finish(started, 2)
        assert incomplete.status == "incomplete"
        # Diffs and lookups read the latest complete snapshot, not the incomplete one...
        assert [s.id for s in store.latest(CONTOSO_ID, 2)] == [complete.id]
        # ...which is listed, marked, and refused when asked for by id.
        listed = store.recent(CONTOSO_ID, incomplete=True)
        assert [(s.id, s.status) for s in listed] == [(incomplete.id, "incomplete"),
                                                      (complete.id, "complete")]
        with pytest.raises(InputError, match="is incomplete"):
            store.load(incomplete.id).require_complete()
        # The next audit of the same scope continues it: only the failed mailbox is read.
        continued = store.unfinished(tenant_id=CONTOSO_ID, profile="lab",
                                     scope="all", noise_kept=False)
        assert continued == (incomplete.id, {SALES})
        store.add_chunk(incomplete.id, [INFO], [Grant(INFO, "alex@contoso.com", "FullAccess")],
                        {}, [])
        finished = store.finish(incomplete.id, 2)
        assert finished.status == "complete" and not finished.failures
        assert finished.summary()["grants"] == 2


FABRIKAM_NAMES = {"fabrikam.com": FABRIKAM_ID, "fabrikam.onmicrosoft.com": FABRIKAM_ID,
                  FABRIKAM_ID: FABRIKAM_ID, "contoso.onmicrosoft.com": CONTOSO_ID}


def test_snapshots_stored_under_a_tenant_name_are_found_by_its_id(
        store_location: Path | str) -> None:
    """A store written before snapshots were kept by tenant id (schema 3: the name --tenant
    gave, or the profile's name when it had none) is found by every name of the tenant
    once its names are resolved, and each name is resolved once."""
    with SnapshotStore(store_location) as store:
        for tenant in ("fabrikam.com", "contoso.onmicrosoft.com", "lab"):
            store._db.execute(  # as schema 3 wrote it: no tenant_id
                "INSERT INTO perm_snapshots (tenant, profile, taken, scope, status) "
                "VALUES (?, 'lab', 1.0, 'all', 'complete')", (tenant,))
        assert store.recent(FABRIKAM_ID) == []
        platform = OpenIdConfigurations(FABRIKAM_NAMES)
        resolver = TenantResolver("https://login.example", platform, persist=False)
        tag_stored_tenants(store, resolver)
        assert [s.tenant for s in store.recent(FABRIKAM_ID)] == ["fabrikam.com"]
        assert [s.tenant for s in store.recent(CONTOSO_ID)] == ["contoso.onmicrosoft.com"]
        tag_stored_tenants(store, resolver)  # nothing left to resolve, "lab" included
        assert sorted(platform.asked) == ["contoso.onmicrosoft.com", "fabrikam.com", "lab"]
        new = store.begin(tenant=FABRIKAM_ID, tenant_id=FABRIKAM_ID, profile="lab",
                          scope="all", noise_kept=False)
        store.finish(new, 0)
        assert [s.tenant for s in store.recent(FABRIKAM_ID)] == [FABRIKAM_ID, "fabrikam.com"]
