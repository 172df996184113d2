"""Activation hands over what it produces: every row in --results, one JSON document per
command, and every temporary password delivered (or named as undelivered)."""

from __future__ import annotations

import csv
from pathlib import Path

from e2e_cli import Cli, rows_csv

HEADER = "UserPrincipalName,DisplayName,FirstName,LastName,UsageLocation,Licenses,Aliases"
LAB = ("--profile", "lab")


def test_results_keep_the_rows_of_every_phase(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    serve("--mailbox-delay-s", "2")
    source = rows_csv(tmp_path / "hires.csv", HEADER, [
        "nora.ahmed@contoso.com,,,,,ENTERPRISEPACK,nora@contoso.com",
        "omar.haddad@contoso.com,,,,,ENTERPRISEPACK,omar@contoso.com",
        "quinn.baker@contoso.com,,,,,ENTERPRISEPACK,"])
    results = tmp_path / "results.csv"
    run = cli(*LAB, "users", "activate", str(source), "--mailbox-timeout", "60s",
              "--credentials-out", str(tmp_path / "creds.csv"), "--results", str(results),
              check=0)
    assert "waiting up to 60s" in run.stderr
    with results.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    final = {r["key"]: r["status"] for r in rows}  # the alias phase's rows come last
    assert final == {"nora.ahmed@contoso.com": "changed", "omar.haddad@contoso.com": "changed",
                     "quinn.baker@contoso.com": "changed"}, rows
