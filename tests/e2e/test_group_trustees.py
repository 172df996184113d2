"""Access held through mail-enabled security groups, read the way Exchange Online allows.

The members of a group that holds a right are read with ``Get-Recipient -Filter
"MemberOfGroup -eq '<group DN>'"`` (the documented filterable property, see
tests/fidelity/records/behaviour-filter-memberofgroup.yaml). One group here is named
``o'brien.team``: its distinguished name carries a single quote, which the OPath string
must double, or the filter breaks (or says something else).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from e2e_cli import Cli, rows_csv

from toolkit.sandbox.tenant import demo

LAB = ("--profile", "lab")
SALES_TEAM = "sales.team@contoso.com"  # demo group: Adele Vance, Alex Wilber
OBRIEN = "o'brien.team@contoso.com"


def _seed(path: Path) -> Path:
    seed = demo.demo_seed()
    contoso = next(t for t in seed["tenants"] if t["name"] == demo.CONTOSO)
    contoso["groups"].append({"email": OBRIEN, "display_name": "O'Brien Team",
                              "members": ["joni.sherman@contoso.com"]})
    contoso["permissions"] += [
        {"mailbox": "finance@contoso.com", "trustee": SALES_TEAM, "right": "FullAccess"},
        {"mailbox": "finance@contoso.com", "trustee": SALES_TEAM, "right": "SendAs"},
        {"mailbox": "info@contoso.com", "trustee": OBRIEN, "right": "FullAccess"},
    ]
    path.write_text(json.dumps(seed))
    return path


def _rows(cli: Cli, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = cli.json(*LAB, *args)
    return rows


def test_access_through_groups_from_the_snapshot_and_live(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve(seed=str(_seed(tmp_path / "seed.json")))
    cli(*LAB, "perms", "audit", "--all", "--out", str(tmp_path / "a.json"), check=0)
    report = json.loads((tmp_path / "a.json").read_text())
    kinds = {(r["mailbox"], r["trustee"], r["right"]): r["kind"] for r in report["rows"]}
    assert kinds[("finance@contoso.com", SALES_TEAM, "FullAccess")] == "group"
    assert kinds[("finance@contoso.com", SALES_TEAM, "SendAs")] == "group"
    assert kinds[("info@contoso.com", OBRIEN, "FullAccess")] == "group"
    assert kinds[("sales@contoso.com", "adele.vance@contoso.com", "FullAccess")] == "grant"
    assert report["summary"]["rights"]["FullAccess"] == 9  # group grants are grants too
    # One membership read per group that holds a right, by distinguished name.
    filters = [c["parameters"]["Filter"] for c in sandbox.commands("Get-Recipient")
               if "Filter" in c["parameters"]]
    assert sorted(filters) == [
        "MemberOfGroup -eq 'CN=o''brien.team,OU=contoso.onmicrosoft.com,OU=Microsoft Exchange "
        "Hosted Organizations,DC=NAMPR01A001,DC=PROD,DC=OUTLOOK,DC=COM'",
        "MemberOfGroup -eq 'CN=sales.team,OU=contoso.onmicrosoft.com,OU=Microsoft Exchange "
        "Hosted Organizations,DC=NAMPR01A001,DC=PROD,DC=OUTLOOK,DC=COM'"]

    for live in ((), ("--live",)):
        adele = _rows(cli, "perms", "access-of", "adele.vance@contoso.com", *live)
        held = {(r["mailbox"], r["right"], r["via"]) for r in adele}
        assert ("sales@contoso.com", "FullAccess", "") in held  # her own grant
        assert ("finance@contoso.com", "FullAccess", SALES_TEAM) in held
        assert ("finance@contoso.com", "SendAs", SALES_TEAM) in held
        assert {r["trustee"] for r in adele} == {"adele.vance@contoso.com"}
        joni = _rows(cli, "perms", "access-of", "joni.sherman@contoso.com", *live)
        assert {(r["mailbox"], r["right"], r["via"], r["kind"]) for r in joni} == {
            ("info@contoso.com", "FullAccess", OBRIEN, "group")}

        finance = _rows(cli, "perms", "who-can-access", "finance@contoso.com", *live)
        assert {(r["trustee"], r["right"], r["kind"]) for r in finance
                if r["trustee"] == SALES_TEAM} == {(SALES_TEAM, "FullAccess", "group"),
                                                   (SALES_TEAM, "SendAs", "group")}
        expanded = _rows(cli, "perms", "who-can-access", "finance@contoso.com",
                         "--expand-groups", *live)
        assert SALES_TEAM not in {r["trustee"] for r in expanded}
        assert {(r["trustee"], r["right"], r["via"]) for r in expanded if r["via"]} == {
            (member, right, SALES_TEAM)
            for member in ("adele.vance@contoso.com", "alex.wilber@contoso.com")
            for right in ("FullAccess", "SendAs")}
    shown = cli(*LAB, "perms", "who-can-access", "info@contoso.com", "--expand-groups",
                check=0)
    assert "joni.sherman@contoso.com" in shown.stdout and "via" in shown.stdout
    assert "1 through a group" in shown.stderr


def test_group_grants_in_reports_drift_and_fix_plans(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    serve(seed=str(_seed(tmp_path / "seed.json")))
    cli(*LAB, "perms", "audit", "--all", check=0)
    granted = cli(*LAB, "perms", "grant", "sales@contoso.com", OBRIEN, "--right", "SendAs",
                  check=0)
    assert "1 changed" in granted.stdout
    cli(*LAB, "perms", "audit", "--all", "--out", str(tmp_path / "a.csv"), check=0)
    with open(tmp_path / "a.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {"mailbox": "sales@contoso.com", "trustee": OBRIEN, "right": "SendAs",
            "kind": "group", "source": "recipient"} in rows
    drift = cli(*LAB, "--output", "json", "perms", "diff", check=3)
    assert json.loads(drift.stdout) == [
        {"change": "added", "mailbox": "sales@contoso.com", "trustee": OBRIEN,
         "right": "SendAs", "kind": "group", "source": "recipient"}]
    cli(*LAB, "perms", "audit", "--all", "--out", str(tmp_path / "a.html"), check=0)
    assert '<tr class="group">' in (tmp_path / "a.html").read_text()
    cli(*LAB, "perms", "diff", check=0)  # nothing changed since: kinds compare equal
    # The approved list lacks the group grants: the fix plan revokes them by address.
    approved = rows_csv(tmp_path / "approved.csv", "Mailbox,Trustee,Right",
                        ["sales@contoso.com,adele.vance@contoso.com,FullAccess"])
    cli(*LAB, "perms", "diff", "--baseline", str(approved), "--fix", "--plan",
        str(tmp_path / "fix.csv"), check=3)
    with open(tmp_path / "fix.csv", encoding="utf-8-sig", newline="") as handle:
        plan = {(r["Mailbox"], r["Trustee"], r["Right"], r["Action"])
                for r in csv.DictReader(handle)}
    assert {("sales@contoso.com", OBRIEN, "SendAs", "revoke"),
            ("finance@contoso.com", SALES_TEAM, "FullAccess", "revoke"),
            ("info@contoso.com", OBRIEN, "FullAccess", "revoke")} <= plan
