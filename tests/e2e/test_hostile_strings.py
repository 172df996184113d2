"""Hostile strings go through the real CLI, pypsrp and the sandbox as data, never as code.

Every value below would do damage if it were pasted into a script: a quote that ends a
literal (PowerShell treats U+0027 and U+2018-U+201B all as single quotes), a
subexpression, backticks, a statement separator, line breaks, NUL, a very long value and
Jinja syntax. Each must arrive at the emulated cmdlet byte for byte (the sandbox's command
log, then the tenant's state read back) and no cmdlet the template does not call may run.
Values the CLI validates (addresses, UPNs) are refused before anything is sent instead.

NUL cannot stand in a command-line argument (the operating system ends the string there),
so it is tried in CSV cells only.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from e2e_cli import Cli

HOSTILE = {
    "quotes": "O'Brien \u2018a\u2019 \u201ab\u201b '' \u2019\u2019",
    "subexpression": "$(Remove-Mailbox -Identity sales@contoso.com -Confirm:$false)",
    "backticks": "`$env:USERNAME` `n `0 \"$x\"",
    "semicolon": "x'; Remove-Mailbox sales@contoso.com; #",
    "newlines": "first\nsecond\r\nthird",
    "nul": "before\0after",
    "jinja": "{{ 7*7 }} {% if true %}yes{% endif %} {# c #} {{ row.Value }}",
}
# 10,000 characters; Exchange limits CustomAttribute1 to 1,024, so it goes in identities.
LONG = "'$(x)`;\u2019\n{{" * 1000
ARGUMENT_SAFE = {name: value for name, value in HOSTILE.items() if "\0" not in value}
CONNECT = {"Get-ConnectionInformation", "Connect-ExchangeOnline",
           "Get-OrganizationConfig"}  # the tenant reached is checked before any row


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def attributes(cli: Cli) -> dict[str, str]:
    shown = cli.json("--profile", "lab", "task", "run", "custom/show-attribute")
    return {m["PrimarySmtpAddress"]: m["CustomAttribute1"] or "" for m in shown}


def cmdlets(sandbox: Any) -> set[str]:
    return {c["cmdlet"] for c in sandbox.commands()}


def test_every_csv_cell_of_a_template_job_arrives_verbatim(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    before = attributes(cli)
    targets = ["sales@contoso.com", "info@contoso.com", "adele.vance@contoso.com",
               "alex.wilber@contoso.com", "debra.berger@contoso.com",
               "lynne.robbins@contoso.com", "megan.bowen@contoso.com"]
    wanted = dict(zip(targets, HOSTILE.values(), strict=True))
    hostile_mailboxes = [*HOSTILE.values(), LONG]
    source = write_csv(tmp_path / "rows.csv", ["Mailbox", "Value"],
                       [*([m, v] for m, v in wanted.items()),
                        *([m, "untouched"] for m in hostile_mailboxes)])
    sandbox.command_log.unlink()
    cli("--profile", "lab", "task", "run", "custom/set-attribute", "--csv", str(source),
        check=1)

    assert cmdlets(sandbox) == CONNECT | {"Get-Mailbox", "Set-Mailbox"}
    reads = [c["parameters"]["Identity"] for c in sandbox.commands("Get-Mailbox")]
    assert sorted(reads) == sorted([*targets, *hostile_mailboxes])  # byte for byte
    changes = [(c["parameters"]["Identity"], c["parameters"]["CustomAttribute1"])
               for c in sandbox.commands("Set-Mailbox") if c["ok"]]
    assert sorted(changes) == sorted(wanted.items())
    assert attributes(cli) == {**before, **wanted}


@pytest.mark.parametrize("name", [*ARGUMENT_SAFE, "long"])
def test_every_cli_argument_arrives_verbatim(  # type: ignore[no-untyped-def]
        cli: Cli, serve, name: str) -> None:
    value = ARGUMENT_SAFE.get(name, LONG)
    sandbox = serve()
    cli("--profile", "lab", "task", "run", "custom/grant-fullaccess", "--param",
        f"Mailbox={value}", "--param", f"User={value}", check=1)
    (call,) = sandbox.commands("Add-MailboxPermission")
    assert not call["ok"] and call["parameters"]["Identity"] == value
    assert call["parameters"]["User"] == value
    assert cmdlets(sandbox) == CONNECT | {"Add-MailboxPermission"}
    cli("--profile", "lab", "task", "run", "custom/show-attribute", "--param",
        f"Filter={value}")  # no such mailbox ('*' is a wildcard here: no error, no match)
    assert [c["parameters"]["Identity"] for c in sandbox.commands("Get-Mailbox")] == [value]
    assert cmdlets(sandbox) == CONNECT | {"Add-MailboxPermission", "Get-Mailbox"}


def test_identity_arguments_of_other_commands_arrive_verbatim(  # type: ignore[no-untyped-def]
        cli: Cli, serve) -> None:
    """One value with every danger at once (no NUL: it cannot stand in an argument)."""
    value = "".join(ARGUMENT_SAFE.values()) + LONG
    sandbox = serve()
    # An unknown user is refused before any change; the lookup carried the value as data
    # (a UPN is case-insensitive and psbridge folds it).
    cli("--profile", "lab", "users", "reset-password", value, check=2)
    assert value.casefold() in [c["parameters"].get("UserId")
                                for c in sandbox.commands("Get-MgUser")]
    assert not sandbox.commands("Update-MgUser")
    cli("--profile", "lab", "mailbox", "protocols", "--mailbox", value, "--pop", "on", check=1)
    assert [c["parameters"]["Identity"] for c in sandbox.commands("Get-CASMailbox")] == [value]
    cli("--profile", "lab", "perms", "who-can-access", value, "--live")
    # protocols' existence check (folded), then who-can-access's read (verbatim)
    assert [c["parameters"]["Identity"] for c in sandbox.commands("Get-Mailbox")] == [
        value.casefold(), value]
    assert not [c for c in sandbox.commands() if c["ok"] and c["cmdlet"].startswith("Set-")]
    assert cmdlets(sandbox) == CONNECT | {"Connect-MgGraph", "Get-MgContext", "Get-MgUser",
                                          "Get-CASMailbox", "Set-CASMailbox", "Get-Mailbox"}


# Validated columns of each bulk command, with a valid row for the others to go in.
VALIDATED = {
    ("perms", "apply"): {"Mailbox": "sales@contoso.com", "Trustee": "adele.vance@contoso.com",
                         "Right": "FullAccess", "Action": "grant", "AutoMapping": "true"},
    ("users", "activate"): {"UserPrincipalName": "new.hire@contoso.com", "UsageLocation": "US",
                            "Aliases": "nh@contoso.com", "Enabled": "true"},
    ("migrate", "imap", "start", "--gmail", "--batch", "w1"): {
        "EmailAddress": "adele.vance@contoso.com", "UserName": "a", "Password": "p"},
    ("mailbox", "protocols"): {"Mailbox": "sales@contoso.com", "Pop": "on", "Imap": "off"},
}
CHECKED = {("perms", "apply"): ["Mailbox", "Trustee", "Right", "Action", "AutoMapping"],
           ("users", "activate"): ["UserPrincipalName", "UsageLocation", "Aliases", "Enabled"],
           ("migrate", "imap", "start", "--gmail", "--batch", "w1"): ["EmailAddress"],
           ("mailbox", "protocols"): ["Pop", "Imap"]}


def test_validated_arguments_and_cells_are_refused_before_anything_is_sent(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    for name, value in ARGUMENT_SAFE.items():
        refused = cli("--profile", "lab", "perms", "grant", value, "adele.vance@contoso.com",
                      "--right", "FullAccess", check=2)
        assert "MAILBOX:" in refused.stderr and "is not an email address" in refused.stderr, name
        refused = cli("--profile", "lab", "perms", "grant", "sales@contoso.com", value,
                      "--right", "FullAccess", check=2)
        assert "TRUSTEE:" in refused.stderr, name
    for command, valid in VALIDATED.items():
        rows = [[*{**valid, column: value}.values()]
                for column in CHECKED[command] for value in HOSTILE.values()]
        source = write_csv(tmp_path / f"{command[0]}.csv", list(valid), rows)
        refused = cli("--profile", "lab", *command, str(source), check=2)
        assert "nothing was changed" in refused.stderr
        for column in CHECKED[command]:  # one problem per hostile cell, named by line
            assert refused.stderr.count(f": {column}: ") == len(HOSTILE), (command, column)
    assert sandbox.commands() == []


def test_identity_cells_of_other_bulk_commands_arrive_verbatim(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    clients = write_csv(tmp_path / "clients.csv", ["Mailbox", "Pop", "Imap"],
                        [[value, "on", "off"] for value in HOSTILE.values()])
    # Every row is looked up before any change (a mailbox identity is folded too); the
    # unknown ones are refused, so nothing is set.
    cli("--profile", "lab", "mailbox", "protocols", str(clients), check=2)
    reads = sorted(c["parameters"]["Identity"] for c in sandbox.commands("Get-Mailbox")
                   if "Identity" in c["parameters"])
    assert reads == sorted(value.casefold() for value in HOSTILE.values())
    assert not sandbox.commands("Set-CASMailbox")
    licensed = write_csv(tmp_path / "users.csv", ["UserPrincipalName"],
                         [[value] for value in HOSTILE.values()])
    cli("--profile", "lab", "users", "license", "add", "--sku", "EMS", "--users",
        str(licensed), check=2)
    # A UPN is case-insensitive and psbridge folds it; otherwise it arrives unchanged.
    looked_up = sorted(c["parameters"]["UserId"] for c in sandbox.commands("Get-MgUser")
                       if "UserId" in c["parameters"])  # the rest list users for hints
    assert looked_up == sorted(value.lower() for value in HOSTILE.values())
    assert cmdlets(sandbox) == CONNECT | {"Get-Mailbox", "Connect-MgGraph", "Get-MgContext",
                                          "Get-MgSubscribedSku", "Get-MgUser"}


def test_activation_names_arrive_verbatim(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    people = {f"hostile.{i}@contoso.com": value for i, value in enumerate(HOSTILE.values())}
    hires = write_csv(tmp_path / "hires.csv",
                      ["UserPrincipalName", "DisplayName", "FirstName", "LastName",
                       "UsageLocation", "Licenses"],
                      [[upn, value, value[::-1], value + "!", "US", "ENTERPRISEPACK"]
                       for upn, value in people.items()])
    cli("--profile", "lab", "users", "activate", str(hires), "--credentials-out",
        str(tmp_path / "credentials.csv"), check=0)
    created = {c["parameters"]["UserPrincipalName"]: c["parameters"]
               for c in sandbox.commands("New-MgUser") if c["ok"]}
    assert set(created) == set(people)
    for upn, value in people.items():
        assert created[upn]["DisplayName"] == value
        assert created[upn]["GivenName"] == value[::-1]
        assert created[upn]["Surname"] == value + "!"
    assert cmdlets(sandbox) <= {"Connect-MgGraph", "Get-MgContext", "Get-MgSubscribedSku",
                                "Get-MgDomain", "Get-MgUser", "New-MgUser", "Set-MgUserLicense",
                                "Update-MgUser", *CONNECT}
    found = cli.json("--profile", "lab", "task", "run", "custom/show-user-names", "--param",
                     "UserPrincipalName=" + ",".join(people))
    assert {u["UserPrincipalName"]: (u["DisplayName"], u["GivenName"], u["Surname"])
            for u in found} == {upn: (v, v[::-1], v + "!") for upn, v in people.items()}


def test_migration_source_credentials_arrive_verbatim(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    sandbox = serve("--state", str(state))
    people = ["adele.vance", "alex.wilber", "christie.cline", "debra.berger", "megan.bowen",
              "lynne.robbins", "nestor.wilke"]
    logins = {f"{person}@contoso.com": (value, value[::-1])
              for person, value in zip(people, HOSTILE.values(), strict=True)}
    source = write_csv(tmp_path / "imap.csv", ["EmailAddress", "UserName", "Password"],
                       [[email, user, password] for email, (user, password) in logins.items()])
    cli("--profile", "lab", "migrate", "imap", "start", str(source), "--gmail", "--batch",
        "hostile", check=0)
    assert {c["cmdlet"] for c in sandbox.commands() if c["ok"] and c["cmdlet"].startswith(
        ("New-", "Set-", "Start-", "Remove-", "Stop-"))} == {"New-MigrationEndpoint",
                                                             "New-MigrationBatch"}
    saved = json.loads(state.read_text(encoding="utf-8"))
    users = {u["email"]: (u["username"], u["password"]) for u in _migration_users(saved)}
    assert users == logins


def _migration_users(tree: Any) -> list[dict[str, Any]]:
    """Every saved migration user (a mapping with email, username and password)."""
    found: list[dict[str, Any]] = []
    if isinstance(tree, dict):
        if {"email", "username", "password"} <= set(tree):
            found.append(tree)
        for value in tree.values():
            found += _migration_users(value)
    elif isinstance(tree, list):
        for value in tree:
            found += _migration_users(value)
    return found
