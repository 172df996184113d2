"""Smaller things a user notices (issue 15, item 10), on the embedded sandbox."""

from __future__ import annotations

import pytest
from e2e_cli import Cli


def test_all_tenants_on_the_embedded_sandbox_covers_its_customer_tenants(cli: Cli) -> None:
    audited = cli("perms", "audit", "--all", "--all-tenants", check=0)
    assert "snapshot 1 of contoso.onmicrosoft.com" in audited.stderr
    assert "of fabrikam.onmicrosoft.com" in audited.stderr
    tenants = {s["tenant"] for s in cli.json("--tenant", "fabrikam.onmicrosoft.com", "perms",
                                             "snapshots")}
    assert tenants == {"fabrikam.onmicrosoft.com"}
    home = {s["tenant"] for s in cli.json("perms", "snapshots")}  # not the customer's
    assert home == {"contoso.onmicrosoft.com"}


def test_the_plan_before_a_run_is_called_a_plan(cli: Cli) -> None:
    granted = cli("perms", "grant", "info@contoso.com", "megan.bowen@contoso.com", "--right",
                  "SendAs", check=0)
    assert "Plan" in granted.stdout and "Changes" not in granted.stdout
    assert "1 changed" in granted.stdout


@pytest.mark.slow
def test_every_command_honours_output_json(cli: Cli) -> None:
    """Issue 15, item 8: stdout is one JSON document whatever the command."""
    import json

    commands = [
        ("version",), ("task", "list"), ("perms", "audit", "--mailbox", "sales@contoso.com"),
        ("perms", "snapshots"), ("perms", "who-can-access", "sales@contoso.com"),
        ("perms", "grant", "info@contoso.com", "alex.wilber@contoso.com", "--right", "SendAs"),
        ("perms", "revoke-all", "debra.berger@contoso.com", "--dry-run"),
        ("migrate", "imap", "test", "--server", "imap.gmail.com"),
        ("migrate", "imap", "status"), ("users", "licenses"),
        ("users", "reset-password", "nora.ahmed@contoso.com"),
        ("mailbox", "protocols", "--mailbox", "adele.vance@contoso.com", "--imap", "on"),
        ("jobs", "list"), ("profile", "list"), ("profile", "test"), ("sandbox", "stop"),
    ]
    for command in commands:
        result = cli(*command, "-o", "json", check=0)
        try:
            json.loads(result.stdout)
        except ValueError:
            raise AssertionError(f"{' '.join(command)}: not JSON:\n{result.stdout}") from None
