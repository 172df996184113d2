"""psbridge perms grant / revoke / apply / revoke-all, driven as a user would, against a
served sandbox whose command log shows every cmdlet the tenant ran."""

from __future__ import annotations

import codecs
import csv
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from e2e_cli import Cli, bulk_seed, rows_csv, rows_done

CHANGE_CMDLETS = ("Add-MailboxPermission", "Remove-MailboxPermission", "Add-RecipientPermission",
                  "Remove-RecipientPermission", "Set-Mailbox")
LAB = ("--profile", "lab")


def changes(sandbox: Any) -> list[dict[str, Any]]:
    return [c for c in sandbox.commands() if c["cmdlet"] in CHANGE_CMDLETS]


def grants(cli: Cli, *mailboxes: str, tenant: tuple[str, ...] = ()) -> dict[str, Any]:
    """mailbox -> {FullAccess, SendAs, SendOnBehalf} as the read template reports them."""
    records = cli.json(*LAB, *tenant, "task", "run", "exchange/perms-read", "--param",
                       "Mailboxes=" + ",".join(mailboxes))
    return {r["Key"]: {right: sorted(r[right] or []) for right in
                       ("FullAccess", "SendAs", "SendOnBehalf")}
            for r in records if r["Kind"] == "mailbox"}


def test_grant_and_revoke_each_right_rerun_is_unchanged(  # type: ignore[no-untyped-def]
        cli: Cli, serve) -> None:
    sandbox = serve()
    args = ("info@contoso.com", "debra.berger@contoso.com", "--right", "GrantFullAccess",
            "--right", "sendas", "--right", "SendOnBehalf")
    revoking = ("info@contoso.com", "debra.berger@contoso.com", "--right", "RemoveFullAccess",
                "--right", "SendAs", "--right", "removesendonbehalfof")
    wrong = cli(*LAB, "perms", "grant", *revoking, check=2)
    assert "--right RemoveFullAccess means revoke" in wrong.stderr
    granted = cli(*LAB, "perms", "grant", *args, check=0)
    assert "3 changed" in granted.stdout
    now = grants(cli, "info@contoso.com")["info@contoso.com"]
    assert "debra.berger@contoso.com" in now["FullAccess"]
    assert "debra.berger@contoso.com" in now["SendAs"]
    assert now["SendOnBehalf"] == ["debra.berger"]
    made = changes(sandbox)
    assert [c["cmdlet"] for c in made] == ["Set-Mailbox", "Add-MailboxPermission",
                                           "Add-RecipientPermission"] or len(made) == 3
    sob = next(c for c in made if c["cmdlet"] == "Set-Mailbox")
    assert sob["parameters"]["GrantSendOnBehalfTo"] == {"Add": "debra.berger@contoso.com"}

    again = cli(*LAB, "perms", "grant", *args, check=0)
    assert "nothing to change: 3 unchanged" in again.stderr
    assert again.stdout.count("already granted") == 3
    assert len(changes(sandbox)) == 3

    cli(*LAB, "perms", "revoke", *revoking, check=0)
    assert grants(cli, "info@contoso.com")["info@contoso.com"]["SendOnBehalf"] == []
    removed = changes(sandbox)[3:]
    assert sorted(c["cmdlet"] for c in removed) == ["Remove-MailboxPermission",
                                                   "Remove-RecipientPermission", "Set-Mailbox"]
    assert next(c for c in removed if c["cmdlet"] == "Set-Mailbox")["parameters"][
        "GrantSendOnBehalfTo"] == {"Remove": "debra.berger@contoso.com"}
    rerun = cli(*LAB, "perms", "revoke", *revoking, check=0)
    assert rerun.stdout.count("not granted") == 3 and len(changes(sandbox)) == 6
    cli(*LAB, "perms", "grant", "info@contoso.com", "not-an-address", "--right", "SendAs",
        check=2)


def test_apply_excel_variants_and_legacy_words_then_rerun_is_unchanged(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    utf16 = tmp_path / "unicode-text.csv"  # Excel's "Unicode text": UTF-16 with tabs
    utf16.write_bytes(codecs.BOM_UTF16_LE + (
        "Mailbox\tTrustee\tRight\tAction\r\n"
        "finance@contoso.com\tdebra.berger@contoso.com\tGrantFullAccess\t\r\n"
        "finance@contoso.com\tdebra.berger@contoso.com\tgrantsendas\t\r\n"
        "finance@contoso.com\temily.braun@contoso.com\tRemoveFullAccess\t\r\n\r\n"
    ).encode("utf-16-le"))
    semicolons = tmp_path / "european.csv"  # European Excel: UTF-8 with BOM, semicolons
    semicolons.write_bytes(codecs.BOM_UTF8 + (
        b"Mailbox;Trustee;Right;Action;AutoMapping\r\n"
        b"support@contoso.com;\"debra.berger@contoso.com\";FULLACCESS;grant;false\r\n"
        b"support@contoso.com;debra.berger@contoso.com;GrantSendOnBehalfOf;;\r\n"
        b"support@contoso.com;grady.archie@contoso.com;RemoveSendOnBehalfOf;;\r\n"
        b"support@contoso.com;grady.archie@contoso.com;sendonbehalf;revoke;\r\n"
        b"sales@contoso.com;adele.vance@contoso.com;SendAs;revoke;\r\n"
        b"sales@contoso.com;adele.vance@contoso.com;FullAccess;;\r\n"
    ))
    dry = cli(*LAB, "perms", "apply", str(semicolons), "--dry-run", check=0)
    assert "dry run: 4 change(s), 2 already so; nothing was changed" in dry.stderr
    assert "same as line 4" in dry.stdout and changes(sandbox) == []

    cli(*LAB, "perms", "apply", str(utf16), check=0)
    result = cli(*LAB, "perms", "apply", str(semicolons), "--results",
                 str(tmp_path / "out.csv"), check=0)
    assert "4 changed" in result.stdout
    header, *outcomes = (tmp_path / "out.csv").read_text().splitlines()
    assert header == "row,mailbox,right,trustee,status,message,error_id"
    assert sorted(line.split(",")[0] for line in outcomes) == ["2", "3", "4", "5", "6", "7"]
    assert sum(",unchanged," in line for line in outcomes) == 2
    by_row = {r["row"]: r for r in csv.DictReader((tmp_path / "out.csv").open())}
    assert {k: by_row["6"][k] for k in ("mailbox", "right", "trustee")} == {
        "mailbox": "sales@contoso.com", "right": "SendAs", "trustee": "adele.vance@contoso.com"}
    shown = Counter(r["status"] for r in cli.json("jobs", "show", cli.json("jobs", "list")[0]["id"]))
    assert shown == {"changed": 4, "unchanged": 2}
    now = grants(cli, "finance@contoso.com", "support@contoso.com", "sales@contoso.com")
    assert "debra.berger@contoso.com" in now["finance@contoso.com"]["FullAccess"]
    assert "emily.braun@contoso.com" not in now["finance@contoso.com"]["FullAccess"]
    assert now["finance@contoso.com"]["SendAs"] == ["debra.berger@contoso.com"]
    assert now["support@contoso.com"]["SendOnBehalf"] == ["debra.berger"]
    assert now["sales@contoso.com"]["SendAs"] == []
    add = next(c for c in changes(sandbox) if c["cmdlet"] == "Add-MailboxPermission"
               and c["parameters"]["Identity"] == "support@contoso.com")
    assert add["parameters"]["AutoMapping"] is False
    before = len(changes(sandbox))
    assert before == 7

    for source in (utf16, semicolons):
        again = cli(*LAB, "perms", "apply", str(source), "--results",
                    str(tmp_path / "again.csv"), check=0)
        assert "nothing to change" in again.stderr
    assert len(changes(sandbox)) == before
    assert (tmp_path / "again.csv").read_text().count("unchanged") == 6


def test_invalid_files_change_nothing(cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sandbox = serve()
    bad = rows_csv(tmp_path / "bad.csv", "Mailbox,Trustee,Right,Action,Colour", [
        "sales@contoso.com,debra.berger@contoso.com,FullAccess,grant,red"])
    result = cli(*LAB, "perms", "apply", str(bad), check=2)
    assert f"{bad}:1: Colour: unknown column" in result.stderr
    bad = rows_csv(tmp_path / "bad2.csv", "Mailbox,Trustee,Right,Action", [
        "sales@contoso.com,debra.berger@contoso.com,FullAccess,grant",   # line 2: fine
        "sales,debra.berger@contoso.com,FullAccess,grant",               # 3: bad address
        "sales@contoso.com,debra.berger@contoso.com,ReadPermission,",    # 4: unknown right
        "sales@contoso.com,DEBRA.BERGER@contoso.com,fullaccess,revoke",  # 5: conflicts with 2
        "sales@contoso.com,debra.berger@contoso.com,RemoveSendAs,grant",  # 6: contradiction
        "sales@contoso.com,debra.berger@contoso.com,SendAs,delete",      # 7: unknown action
    ])
    result = cli(*LAB, "perms", "apply", str(bad), check=2)
    for expected in (f"{bad}:3: Mailbox: 'sales' is not an email address",
                     f"{bad}:4: Right: unknown right 'ReadPermission'",
                     f"{bad}:5: Action: conflicts with line 2",
                     f"{bad}:6: Action: grant contradicts the right word",
                     f"{bad}:7: Action: unknown action 'delete'"):
        assert expected in result.stderr
    assert "5 problem(s), nothing was changed" in result.stderr
    unknown = rows_csv(tmp_path / "unknown.csv", "Mailbox,Trustee,Right", [
        "sales@contoso.com,debra.berger@contoso.com,FullAccess",
        "nobody@contoso.com,debra.berger@contoso.com,FullAccess",
        "sales@contoso.com,ghost@contoso.com,SendAs",
        "sale@contoso.com,alex.wilbr@contoso.com,SendAs"])
    result = cli(*LAB, "perms", "apply", str(unknown), check=2)
    for expected in (f"{unknown}:3: Mailbox: no mailbox nobody@contoso.com\n",
                     f"{unknown}:4: Trustee: no user ghost@contoso.com\n",
                     f"{unknown}:5: Mailbox: no mailbox sale@contoso.com; did you mean "
                     "sales@contoso.com?",
                     f"{unknown}:5: Trustee: no user alex.wilbr@contoso.com; did you mean "
                     "alex.wilber@contoso.com?"):
        assert expected in result.stderr
    assert "4 problem(s) in the tenant" in result.stderr
    assert "couldn't be found" not in result.stderr
    assert changes(sandbox) == []
    cli("profile", "add", "desk", "--endpoint", "https://127.0.0.1:9/wsman", "--role",
        "helpdesk", check=0)
    refused = cli("--profile", "desk", "perms", "grant", "sales@contoso.com",
                  "debra.berger@contoso.com", "--right", "SendAs", check=2)
    assert "needs the admin role" in refused.stderr


def test_automapping_change_is_remove_and_grant(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve()
    # Alex's grant on sales was made outside psbridge: its AutoMapping cannot be read.
    args = ("sales@contoso.com", "alex.wilber@contoso.com", "--right", "FullAccess")
    cli(*LAB, "perms", "grant", *args, check=0)
    assert changes(sandbox) == []  # AutoMapping not asked for: the grant is left alone
    first = cli(*LAB, "perms", "grant", *args, "--no-automapping", check=0)
    assert "remove + grant" in first.stdout and "is unknown" in first.stdout
    assert [c["cmdlet"] for c in changes(sandbox)] == ["Remove-MailboxPermission",
                                                       "Add-MailboxPermission"]
    assert changes(sandbox)[1]["parameters"]["AutoMapping"] is False
    again = cli(*LAB, "perms", "grant", *args, "--no-automapping", check=0)
    assert "already granted" in again.stdout and len(changes(sandbox)) == 2
    source = rows_csv(tmp_path / "on.csv", "Mailbox,Trustee,Right,AutoMapping",
                      ["sales@contoso.com,alex.wilber@contoso.com,FullAccess,TRUE"])
    switched = cli(*LAB, "perms", "apply", str(source), "--results",
                   str(tmp_path / "out.json"), check=0)
    assert "AutoMapping off -> on: removed and granted again" in switched.stdout
    assert "removed and granted again" in (tmp_path / "out.json").read_text()
    assert [c["cmdlet"] for c in changes(sandbox)][2:] == ["Remove-MailboxPermission",
                                                           "Add-MailboxPermission"]
    assert changes(sandbox)[3]["parameters"]["AutoMapping"] is True
    cli(*LAB, "perms", "apply", str(source), check=0)
    assert len(changes(sandbox)) == 4


def test_revoke_all_and_a_partner_tenant(cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sandbox = serve()
    dry = cli(*LAB, "perms", "revoke-all", "debra.berger@contoso.com", "--dry-run", check=0)
    assert dry.stdout.count("revoke") == 2 and changes(sandbox) == []
    cli(*LAB, "perms", "revoke-all", "debra.berger@contoso.com", check=0)
    assert sorted(c["cmdlet"] for c in changes(sandbox)) == ["Remove-MailboxPermission",
                                                            "Set-Mailbox"]
    patti = grants(cli, "patti.fernandez@contoso.com")["patti.fernandez@contoso.com"]
    assert patti == {"FullAccess": [], "SendAs": [], "SendOnBehalf": []}
    again = cli(*LAB, "perms", "revoke-all", "debra.berger@contoso.com", check=0)
    assert "nothing to change: 0 unchanged" in again.stderr
    cli(*LAB, "perms", "revoke-all", "nobody@contoso.com", check=2)

    fabrikam = ("--tenant", "fabrikam.onmicrosoft.com")
    source = rows_csv(tmp_path / "fabrikam.csv", "Mailbox,Trustee,Right", [
        "ana.bowman@fabrikam.com,brian.johnson@fabrikam.com,GrantFullAccess",
        "ana.bowman@fabrikam.com,brian.johnson@fabrikam.com,GrantSendOnBehalfOf"])
    cli(*LAB, *fabrikam, "perms", "apply", str(source), check=0)
    cli(*LAB, *fabrikam, "perms", "grant", "ana.bowman@fabrikam.com",
        "carlos.slattery@fabrikam.com", "--right", "SendAs", check=0)
    made = [c for c in changes(sandbox) if c["tenant"] == "fabrikam.onmicrosoft.com"]
    assert sorted(c["cmdlet"] for c in made) == ["Add-MailboxPermission",
                                                "Add-RecipientPermission", "Set-Mailbox"]
    assert grants(cli, "ana.bowman@fabrikam.com", tenant=fabrikam)[
        "ana.bowman@fabrikam.com"]["SendOnBehalf"] == ["brian.johnson"]
    cli(*LAB, *fabrikam, "perms", "revoke-all", "brian.johnson@fabrikam.com", check=0)
    assert grants(cli, "ana.bowman@fabrikam.com", tenant=fabrikam)[
        "ana.bowman@fabrikam.com"]["FullAccess"] == []
    # the same address does not exist in contoso: the tenant really is fabrikam's
    cli(*LAB, "perms", "grant", "ana.bowman@fabrikam.com", "brian.johnson@fabrikam.com",
        "--right", "SendAs", check=2)


@pytest.mark.slow
def test_kill_9_mid_apply_then_resume_applies_each_change_once(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    seed = bulk_seed(tmp_path / "seed.json", 100)
    sandbox = serve("--cmdlet-ms", "30", seed=str(seed))
    rights = ("FullAccess", "GrantSendAs", "SendOnBehalf")
    lines = [f"bulk{i:04d}@contoso.com,bulk{(i + 1) % 100:04d}@contoso.com,{right}"
             for i in range(100) for right in rights]
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Trustee,Right", lines)
    job = cli.popen(*LAB, "perms", "apply", str(source), "--chunk-size", "10",
                    "--concurrency", "2")
    # Killed once 60 rows are recorded and, at that moment, the tenant holds changes the
    # journal has not recorded yet (a chunk caught mid-way). The tenant is read before the
    # journal: changes only grow, so more changes than recorded rows means some are unrecorded.
    while True:
        assert job.poll() is None, "the job ended before a chunk was caught mid-way"
        applied_now = sum(1 for c in changes(sandbox) if c["ok"])
        if rows_done(isolated_home) >= 60 and applied_now > rows_done(isolated_home):
            break
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)
    assert rows_done(isolated_home) < 300
    (listed,) = cli.json("jobs", "list")
    at_kill = Counter(r["status"] for r in cli.json("jobs", "show", listed["id"]))
    assert at_kill["unknown"], "the kill should have caught chunks in flight"
    resumed = cli(*LAB, "jobs", "resume", listed["id"], timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    verified = [r for r in cli.json("jobs", "show", listed["id"])
                if "before the interruption" in r["message"]]
    assert verified, "rows applied just before the kill are verified, not sent again"
    final = Counter(r["status"] for r in cli.json("jobs", "show", listed["id"]))
    assert final == {"changed": 300}
    applied = Counter(
        (c["parameters"]["Identity"], c["cmdlet"]) for c in changes(sandbox) if c["ok"])
    assert len(applied) == 300 and set(applied.values()) == {1}
    again = cli(*LAB, "perms", "apply", str(source), check=0)
    assert "nothing to change: 300 unchanged" in again.stderr


def test_throttled_reads_and_changes_still_end_right(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    seed = bulk_seed(tmp_path / "seed.json", 30)
    sandbox = serve("--throttle-rate", "0.1", "--throttle-retry-s", "1", "--fault-rate", "0.03",
                    "--random-seed", "5",
                    seed=str(seed))
    lines = [f"bulk{i:04d}@contoso.com,bulk{(i + 1) % 30:04d}@contoso.com,{right}"
             for i in range(30) for right in ("FullAccess", "SendAs", "SendOnBehalf")]
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Trustee,Right", lines)
    cli(*LAB, "perms", "apply", str(source), "--chunk-size", "10", check=0, timeout=300)
    assert [c for c in sandbox.commands() if not c["ok"]], "the sandbox should have throttled"
    again = cli(*LAB, "perms", "apply", str(source), check=0, timeout=300)
    assert "nothing to change: 90 unchanged" in again.stderr
