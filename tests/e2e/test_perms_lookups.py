"""Lookups answer about addresses the tenant knows, from snapshots that cover them (issue 15,
items 2 and 4; issue 19, item 7), on the embedded sandbox's demo tenant."""

from __future__ import annotations

import re
from typing import Any

from e2e_cli import Cli

TYPO = "adele.vanse@contoso.com"
LAB = ("--profile", "lab")
CHANGES = ("Add-MailboxPermission", "Remove-MailboxPermission", "Add-RecipientPermission",
           "Remove-RecipientPermission", "Set-Mailbox")


def test_an_unknown_address_is_an_error_with_a_suggestion_from_snapshot_and_live(
        cli: Cli) -> None:
    audited = cli("perms", "audit", "--all", check=0)
    for args in (("perms", "access-of", TYPO), ("perms", "access-of", TYPO, "--live")):
        refused = cli(*args, check=2)
        assert f"no user {TYPO} in contoso.onmicrosoft.com; did you mean " \
               "adele.vance@contoso.com?" in refused.stderr
        assert "right(s)" not in refused.stderr and refused.stdout == ""
    for args in (("perms", "who-can-access", "sale@contoso.com"),
                 ("perms", "who-can-access", "sale@contoso.com", "--live")):
        refused = cli(*args, check=2)
        assert "no mailbox sale@contoso.com in" in refused.stderr
        assert "did you mean sales@contoso.com?" in refused.stderr
    offboarding = cli("perms", "revoke-all", TYPO, "--dry-run", check=2)
    assert "did you mean adele.vance@contoso.com?" in offboarding.stderr
    nothing_close = cli("perms", "who-can-access", "nosuch@contoso.com", check=2)
    assert "did you mean" not in nothing_close.stderr

    # a real user without access, and an orphaned SID, still get their answer
    lynne = cli("perms", "access-of", "lynne.robbins@contoso.com", check=0)
    assert "0 right(s), from snapshot" in lynne.stderr
    orphan = re.search(r"S-1-5-21-[\d-]+", cli("perms", "who-can-access", "finance@contoso.com",
                                               check=0).stdout)
    assert orphan is not None
    assert "1 right(s)" in cli("perms", "access-of", orphan.group(0), check=0).stderr

    # the snapshot list counts what the audit found
    found = re.search(r"(\d+) mailbox\(es\), (\d+) grant\(s\), (\d+) orphaned", audited.stderr)
    assert found is not None
    (listed, *_) = cli.json("perms", "snapshots")
    assert (listed["mailboxes"], listed["grants"], listed["orphans"]) == tuple(
        int(n) for n in found.groups())
    assert listed["grants"] > 0 and listed["orphans"] > 0


def test_a_snapshot_that_did_not_read_the_mailbox_does_not_answer_for_it(cli: Cli) -> None:
    cli("perms", "audit", "--mailbox", "sales@contoso.com", check=0)
    refused = cli("perms", "who-can-access", "info@contoso.com", check=2)
    assert "mailbox info@contoso.com is not in snapshot 1" in refused.stderr
    assert "it read only sales@contoso.com" in refused.stderr and "--live" in refused.stderr
    live = cli.json("perms", "who-can-access", "info@contoso.com", "--live")
    assert {r["trustee"] for r in live} >= {"patti.fernandez@contoso.com"}
    assert cli.json("perms", "who-can-access", "sales@contoso.com")


def test_lookups_answer_from_the_newest_snapshot_that_covers_them(cli: Cli) -> None:
    cli("perms", "audit", "--all", check=0)  # snapshot 1: every mailbox
    cli("perms", "audit", "--mailbox", "finance@contoso.com", check=0)  # snapshot 2
    sales = cli("perms", "who-can-access", "sales@contoso.com", check=0)
    assert "from snapshot 1 " in sales.stderr and "adele.vance@contoso.com" in sales.stdout
    finance = cli("perms", "who-can-access", "finance@contoso.com", check=0)
    assert "from snapshot 2 " in finance.stderr
    adele = cli("perms", "access-of", "adele.vance@contoso.com", check=0)
    assert "from snapshot 1 " in adele.stderr and "sales@contoso.com" in adele.stdout


def test_audits_and_changes_check_every_address_before_reading_or_changing(
        cli: Cli, serve: Any) -> None:
    """Issue 15, item 4: an audit of a misspelt trustee is no empty report, an audit of a
    misspelt mailbox saves no snapshot, and a change names the address it does not know."""
    sandbox = serve()
    typo = cli(*LAB, "perms", "audit", "--all", "--trustee", TYPO, "-o", "csv", check=2)
    assert f"no user {TYPO} in contoso.onmicrosoft.com; did you mean " \
           "adele.vance@contoso.com?" in typo.stderr and typo.stdout == ""
    one = cli(*LAB, "perms", "audit", "--mailbox", "sales@contoso.com", "--mailbox",
              "sale@contoso.com", check=2)
    assert "no mailbox sale@contoso.com in contoso.onmicrosoft.com; did you mean " \
           "sales@contoso.com?" in one.stderr
    two = cli(*LAB, "perms", "audit", "--mailbox", "sale@contoso.com", "--mailbox",
              "nobody@contoso.com", check=2)
    assert "no mailbox sale@contoso.com; did you mean sales@contoso.com?" in two.stderr
    assert "no mailbox nobody@contoso.com\n" in two.stderr
    assert cli.json(*LAB, "perms", "snapshots") == []
    assert sandbox.commands("Get-MailboxPermission") == []  # no mailbox was read

    granted = cli(*LAB, "perms", "grant", "sale@contoso.com", TYPO, "--right", "SendAs",
                  check=2)
    assert "Mailbox: no mailbox sale@contoso.com; did you mean sales@contoso.com?" \
        in granted.stderr
    assert f"Trustee: no user {TYPO}; did you mean adele.vance@contoso.com?" in granted.stderr
    revoked = cli(*LAB, "perms", "revoke", "sales@contoso.com", TYPO, "--right", "SendAs",
                  check=2)
    assert "did you mean adele.vance@contoso.com?" in revoked.stderr
    for refused in (granted, revoked):
        assert "couldn't be found" not in refused.stderr
    assert [c for c in sandbox.commands() if c["cmdlet"] in CHANGES] == []
