"""The reading half of ``ws.perms`` through the Python API: drift between two audits and
the plan that undoes it, audits of the tenant with their report, and reverse lookups from
the snapshot and live, on the sandbox's demo tenant."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from toolkit import Workspace
from toolkit.api.perms_audits import TenantAudit
from toolkit.core.errors import InputError

JONI = ("added", "info@contoso.com", "joni.sherman@contoso.com", "FullAccess")


def test_drift_between_two_audits_and_the_plan_that_undoes_it(serve: Any,
                                                               tmp_path: Path) -> None:
    serve()
    with Workspace("lab") as ws:
        with pytest.raises(InputError) as none_yet:
            ws.perms.drift()
        assert "has 0 permission snapshot(s); diff needs two" in none_yet.value.message
        first = ws.perms.audit(all=True).snapshot
        ws.perms.grant("info@contoso.com", "joni.sherman@contoso.com", rights=["FullAccess"])
        second = ws.perms.audit(all=True).snapshot
        found = ws.perms.drift()
        assert found.compared == f"snapshot {first.id} -> {second.id}"
        assert [(r["change"], r["mailbox"], r["trustee"], r["right"])
                for r in found.rows()] == [JONI]
        assert found.summary() == {"tenant": "contoso.onmicrosoft.com",
                                   "compared": found.compared, "added": 1, "removed": 0}
        assert not ws.perms.drift([first.id, first.id]).drift.found

        plan = ws.perms.fix_plan(found.drift, tmp_path / "fix.csv")
        assert plan.rows == [{"Mailbox": "info@contoso.com",
                              "Trustee": "joni.sherman@contoso.com", "Right": "FullAccess",
                              "Action": "revoke"}]
        assert plan.path == tmp_path / "fix.csv" and plan.unfixable == []
        with open(plan.path, encoding="utf-8-sig", newline="") as handle:
            assert list(csv.DictReader(handle)) == plan.rows  # what 'perms apply' reads
        assert ws.perms.apply(plan.path).changed == 1

        # The audit of the tenant as the CLI runs it: compared with the previous one.
        (audited,) = list(ws.perms.audit_tenants(all=True, report=tmp_path / "audit.json"))
        assert isinstance(audited, TenantAudit)
        assert audited.previous == second.id and audited.since_previous is not None
        assert [(g.mailbox, g.trustee) for g in audited.since_previous.removed] == [
            ("info@contoso.com", "joni.sherman@contoso.com")]
        assert audited.shown == sum(1 for _ in audited.rows()) > 0
        assert audited.report is not None and json.loads(audited.report.read_text())
        assert [s.id for s in ws.perms.snapshots()] == [audited.snapshot.id, second.id,
                                                        first.id]


def test_reverse_lookups_answer_from_the_snapshot_and_live(serve: Any) -> None:
    serve()
    with Workspace("lab") as ws:
        with pytest.raises(InputError) as no_snapshot:
            ws.perms.access_of("debra.berger@contoso.com")
        assert "no permission snapshot of contoso.onmicrosoft.com" in no_snapshot.value.message
        snapshot = ws.perms.audit(all=True).snapshot
        debra = ws.perms.access_of("debra.berger@contoso.com")
        assert {(r["mailbox"], r["right"]) for r in debra.rows} == {
            ("patti.fernandez@contoso.com", "FullAccess"),
            ("patti.fernandez@contoso.com", "SendOnBehalf")}
        assert debra.source == f"snapshot {snapshot.id} ({snapshot.taken_text})"
        live = ws.perms.access_of("debra.berger@contoso.com", live=True)
        assert (live.rows, live.source) == (debra.rows, "live")

        who = ws.perms.who_can_access("info@contoso.com")
        assert ("patti.fernandez@contoso.com", "SendAs") in {
            (r["trustee"], r["right"]) for r in who.rows}
        assert any(r["kind"] == "orphan" for r in who.rows)
        assert who.through_groups == 0

        with pytest.raises(InputError) as typo:
            ws.perms.access_of("adele.vanse@contoso.com")
        assert "did you mean adele.vance@contoso.com?" in typo.value.message
        with pytest.raises(InputError) as unknown:
            ws.perms.who_can_access("sale@contoso.com")
        assert "did you mean sales@contoso.com?" in unknown.value.message
