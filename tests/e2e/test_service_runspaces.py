"""Exchange and Graph in separate runspaces.

The ExchangeOnlineManagement module and the Microsoft Graph SDK load conflicting versions
of the same assemblies, so one process that loads both fails, in either order: "EXO-then-
Graph gives the WithLogging method-not-found; Graph-then-EXO gives the RuntimeBroker
NullReferenceException" (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/3394,
also issue 2803 there). psbridge keeps each service in a runspace of its own; the
sandbox's command log names the runspace of every cmdlet it ran.

Done so far for the migration reads; ``users activate`` still adds aliases (Exchange) in
the runspace of its Graph activation (see the issue 14 report).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from e2e_cli import Cli


def _service(cmdlet: str) -> str:
    return "graph" if "-Mg" in cmdlet else "exchange"


def test_a_migration_plan_reads_exchange_and_graph_on_separate_runspaces(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    source = tmp_path / "users.csv"
    source.write_text("EmailAddress,UserName,Password\n"
                      "adele.vance@contoso.com,adele.vance.contoso@gmail.com,adele-app-pw-2024\n")
    planned = cli("--profile", "lab", "migrate", "imap", "plan", str(source), "--gmail",
                  "--batch", "wave1", check=0)
    assert "ok: 1 user(s) in 1 batch(es)" in planned.stdout
    used: dict[str, set[str]] = defaultdict(set)
    for entry in sandbox.commands():
        used[entry["runspace"]].add(_service(entry["cmdlet"]))
    assert {"exchange"} in used.values() and {"graph"} in used.values(), used
    assert all(len(services) == 1 for services in used.values()), used
    assert sandbox.commands("Get-MgUserLicenseDetail")  # the licence check did run
