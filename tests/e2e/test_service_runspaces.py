"""Exchange and Graph in separate runspaces.

The ExchangeOnlineManagement module and the Microsoft Graph SDK load conflicting versions
of the same assemblies, so one process that loads both fails, in either order: "EXO-then-
Graph gives the WithLogging method-not-found; Graph-then-EXO gives the RuntimeBroker
NullReferenceException" (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/3394;
also issues 2803 and 2227 there). psbridge keeps each service in a runspace of its own: a
command that needs both runs its Exchange and Graph work as steps on separate connections.
The sandbox's command log names, for every cmdlet it ran (connect cmdlets included), the
runspace and the service whose module the cmdlet belongs to.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from e2e_cli import Cli, rows_csv, wait_for_mailbox


def assert_one_service_per_runspace(sandbox: Any) -> None:
    """Every runspace ran cmdlets of one service at most, and both services were used."""
    used: dict[str, set[str]] = defaultdict(set)
    for entry in sandbox.commands():
        if entry["service"] is not None:
            used[entry["runspace"]].add(entry["service"])
    assert {"exchange"} in used.values() and {"graph"} in used.values(), used
    mixed = {runspace: services for runspace, services in used.items() if len(services) > 1}
    assert not mixed, f"runspaces that ran Exchange and Graph cmdlets: {mixed}"


def test_a_migration_plan_reads_exchange_and_graph_on_separate_runspaces(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    source = tmp_path / "users.csv"
    source.write_text("EmailAddress,UserName,Password\n"
                      "adele.vance@contoso.com,adele.vance.contoso@gmail.com,adele-app-pw-2024\n")
    planned = cli("--profile", "lab", "migrate", "imap", "plan", str(source), "--gmail",
                  "--batch", "wave1", check=0)
    assert "ok: 1 user(s) in 1 batch(es)" in planned.stdout
    assert sandbox.commands("Get-MgUserLicenseDetail")  # the licence check did run
    assert_one_service_per_runspace(sandbox)


def test_users_activate_licenses_on_graph_runspaces_and_adds_aliases_on_exchange_ones(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve("--mailbox-delay-s", "3")
    source = rows_csv(tmp_path / "hires.csv",
                      "UserPrincipalName,DisplayName,FirstName,LastName,UsageLocation,"
                      "Licenses,Aliases", [
                          "nora.ahmed@contoso.com,,,,,ENTERPRISEPACK,nora@contoso.com",
                          "new.hire@contoso.com,New Hire,New,Hire,US,ENTERPRISEPACK,",
                      ])
    # No time to wait for the mailbox: Nora's aliases step waits, and jobs resume ends it.
    run = cli("--profile", "lab", "users", "activate", str(source), "--mailbox-timeout", "0s",
              check=1)
    assert "1 row(s) pending mailbox" in run.stderr
    job = re.search(r"psbridge jobs resume (\S+)", run.stderr).group(1)  # type: ignore[union-attr]
    rows = {r["key"]: r for r in cli.json("jobs", "show", job)}
    assert rows["nora.ahmed@contoso.com"]["status"] == "waiting"
    assert rows["new.hire@contoso.com"]["status"] == "changed"
    assert not sandbox.commands("Set-Mailbox")

    wait_for_mailbox(cli, "nora.ahmed@contoso.com")
    resumed = cli("--profile", "lab", "jobs", "resume", job, check=0)
    assert "1 changed" in resumed.stdout
    assert [e["parameters"]["Identity"] for e in sandbox.commands("Set-Mailbox")
            if e["ok"]] == ["nora.ahmed@contoso.com"]
    assert len(sandbox.commands("New-MgUser")) == 1
    assert_one_service_per_runspace(sandbox)


MIXED = """{#- psbridge
name: custom/user-and-mailbox
summary: A user's account and mailbox in one script
role: helpdesk
mutates: false
services: [graph]
params:
  User: {type: string, required: true}
-#}
param([string]$User)
Get-MgUser -UserId $User
Get-Mailbox -Identity $User
"""


def test_a_user_template_calling_both_services_is_refused_at_lint_and_run(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "user-and-mailbox.ps1.j2").write_text(MIXED)
    mine = {"PSBRIDGE_TEMPLATES": str(tmp_path)}
    lint = cli("task", "lint", "custom/user-and-mailbox", extra_env=mine, check=2)
    assert ("custom/user-and-mailbox:3:1: calls Get-Mailbox (exchange) and Get-MgUser (graph): "
            "a script runs in one runspace") in lint.stdout + lint.stderr
    run = cli("--profile", "lab", "task", "run", "custom/user-and-mailbox", "--param",
              "User=adele.vance@contoso.com", extra_env=mine, check=2)
    assert "split it into one template per service" in run.stderr
    assert sandbox.commands() == []  # refused before anything was sent
