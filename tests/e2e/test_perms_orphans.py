"""Cleaning up orphaned SIDs, the findings an audit reports, against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_cli import Cli, rows_csv

SALES_ORPHAN = "S-1-5-21-3623811015-3361044348-30300820-1013"  # FullAccess on sales@
INFO_ORPHAN = "S-1-5-21-3623811015-3361044348-30300820-1027"  # SendAs on info@
FINANCE_ORPHAN = "S-1-5-21-1004336348-1177238915-682003330-2245"  # FullAccess on finance@


def orphans(cli: Cli, tmp_path: Path) -> set[tuple[str, str, str]]:
    report = tmp_path / "audit.json"
    cli("perms", "audit", "--all", "--out", str(report), check=0)
    rows = json.loads(report.read_text())["rows"]
    return {(r["mailbox"], r["trustee"], r["right"]) for r in rows if r["kind"] == "orphan"}


def test_orphaned_sids_are_revoked_and_never_granted(cli: Cli, tmp_path: Path) -> None:
    assert orphans(cli, tmp_path) == {
        ("sales@contoso.com", SALES_ORPHAN, "FullAccess"),
        ("info@contoso.com", INFO_ORPHAN, "SendAs"),
        ("finance@contoso.com", FINANCE_ORPHAN, "FullAccess"),
    }
    refused = cli("perms", "grant", "sales@contoso.com", SALES_ORPHAN, "--right", "FullAccess",
                  check=2)
    assert "an orphaned SID can only be revoked" in refused.stderr

    revoked = cli("perms", "revoke", "sales@contoso.com", SALES_ORPHAN.lower(), "--right",
                  "FullAccess", check=0)
    assert "1 changed" in revoked.stdout
    source = rows_csv(tmp_path / "cleanup.csv", "Mailbox,Trustee,Right",
                      [f"finance@contoso.com,{FINANCE_ORPHAN},RemoveFullAccess"])
    assert "1 changed" in cli("perms", "apply", str(source), check=0).stdout
    assert "1 changed" in cli("perms", "revoke-all", INFO_ORPHAN, check=0).stdout
    assert orphans(cli, tmp_path) == set()
    again = cli("perms", "apply", str(source), check=0)
    assert "nothing to change: 1 unchanged" in again.stderr
