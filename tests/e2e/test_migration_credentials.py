"""``migrate imap resume NAME --credentials FILE``: fix a failed user's source password and
retry only that user (issue 15, item 9).

How Exchange Online does it, and so how the sandbox behaves:

- Set-MigrationBatch, -CSVData "specifies the CSV file that contains information about the
  user mailboxes to be moved or migrated" (a byte array); without -AddUsers the sandbox
  takes it as new rows for users already in the batch (their credentials), refusing a
  user who is not: https://learn.microsoft.com/powershell/module/exchangepowershell/set-migrationbatch
- Start-MigrationBatch "resumes a Stopped migration batch or retry failures within a
  Failed or Synced with Errors migration batch": the failed users are retried, users that
  synced are left alone:
  https://learn.microsoft.com/powershell/module/exchangepowershell/start-migrationbatch

The seeded IMAP source (toolkit/sandbox/tenant/demo.py) holds Lynne's right app password;
a batch given her old one fails her with an IMAP authentication error.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from e2e_cli import Cli, rows_csv
from test_migration import GOOD, SPEED, WRONG, created, legacy_csv

LAB = ("--profile", "lab")
RIGHT = "lynne-app-pw-2024"  # Lynne's password at the seeded source
TODAY = "EmailAddress,UserName,Password"


def _row(name: str, password: str) -> str:
    return f"{name}@contoso.com,{name}.contoso@gmail.com,{password}"


def _start_and_watch_fail(cli: Cli, tmp_path: Path, batch: str,
                          seen: list[str]) -> None:
    """A batch of the GOOD users and Lynne with her old password, watched until settled:
    Lynne failed."""
    source = rows_csv(tmp_path / "wave.csv", TODAY,
                      [*(_row(n, p) for n, p in GOOD.items()), _row(*WRONG)])
    for args, code in ((("plan", str(source), "--gmail", "--batch", batch), 0),
                       (("start", str(source), "--gmail", "--batch", batch), 0),
                       (("status", batch, "--watch", "--interval", "0.3"), 1)):
        result = cli(*LAB, "migrate", "imap", *args, check=code)
        seen.extend([result.stdout, result.stderr])
    assert "3 synced, 1 failed" in result.stderr
    assert f"'psbridge migrate imap resume {batch}'" in result.stderr
    assert "--credentials FILE" in result.stderr  # the hint names the way to fix passwords


def _users(cli: Cli, batch: str) -> dict[str, dict[str, Any]]:
    shown = cli.json(*LAB, "migrate", "imap", "status", batch)
    return {u["email"]: u for u in shown["users"]}


def test_corrected_password_retries_only_the_failed_user(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    sandbox = serve(*SPEED)
    seen: list[str] = []

    def run(*args: str, check: int) -> subprocess.CompletedProcess[str]:
        result = cli(*LAB, "migrate", "imap", *args, check=check)
        seen.extend([result.stdout, result.stderr])
        return result

    _start_and_watch_fail(cli, tmp_path, "fix", seen)
    before = _users(cli, "fix")
    lynne = "lynne.robbins@contoso.com"
    assert before[lynne]["status"] == "Failed"
    assert "ImapAuthenticationException" in before[lynne]["error"]

    # The legacy format works as well as today's: Lynne's row with her right password.
    fixed = legacy_csv(tmp_path / "fixed.csv", {WRONG[0]: RIGHT})
    resumed = run("resume", "fix", "--credentials", str(fixed), check=0)
    assert "fix" in resumed.stdout and "1 user(s) retried" in resumed.stdout

    # Only Lynne's row went to Exchange, as CSV data of the batch, then the batch started.
    (update,) = sandbox.commands("Set-MigrationBatch")
    assert update["parameters"]["Identity"] == "fix"
    assert update["parameters"]["CSVData"] == {"EmailAddress": [lynne],
                                               "other columns": "********"}
    assert [c["parameters"]["Identity"] for c in sandbox.commands("Start-MigrationBatch")] \
        == ["fix"]

    watched = run("status", "fix", "--watch", "--interval", "0.3", check=0)
    assert "all synced: 4 user(s): 4 synced" in watched.stdout
    after = _users(cli, "fix")
    assert after[lynne]["status"] == "Synced" and after[lynne]["error"] in ("", None)
    assert after[lynne]["items_synced"] > 0
    for name in GOOD:  # the users that had synced were not synced again
        email = f"{name}@contoso.com"
        assert after[email]["last_sync"] == before[email]["last_sync"], email
        assert after[email]["items_synced"] == before[email]["items_synced"], email

    # Lynne's passwords (old and right) nowhere: output, journal, command log, a report.
    report = tmp_path / "fix.html"
    run("report", "fix", "--out", str(report), check=0)
    seen.extend(sandbox.output)
    stores = [p for p in isolated_home.rglob("*") if p.is_file()]
    assert sandbox.command_log in stores
    for password in (RIGHT, WRONG[1], *GOOD.values()):
        assert not any(password in text for text in seen), password
        for store in [*stores, report]:
            assert password.encode() not in store.read_bytes(), (password, store)


def test_bad_credentials_files_change_nothing(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    sandbox = serve(*SPEED)
    _start_and_watch_fail(cli, tmp_path, "bad", [])
    before = _users(cli, "bad")
    changes = created(sandbox)

    def refused(name: str, header: str, rows: list[str], batch: str = "bad") -> str:
        path = rows_csv(tmp_path / name, header, rows)
        result = cli(*LAB, "migrate", "imap", "resume", batch, "--credentials", str(path),
                     check=2)
        return result.stderr

    # Not users of the batch, or users that did not fail: every row named, nothing sent.
    tenant = refused("tenant.csv", TODAY, [_row(WRONG[0], RIGHT), _row("megan.bowen", "pw"),
                                           _row("adele.vance", "new-pw")])
    assert "tenant.csv:3: EmailAddress: megan.bowen@contoso.com is not a user of " \
           "migration batch bad" in tenant
    assert "tenant.csv:4: EmailAddress: adele.vance@contoso.com is Synced in batch bad, " \
           "not failed" in tenant
    assert "tenant.csv:2" not in tenant and "nothing was changed" in tenant
    synced = refused("synced.csv", TODAY, [_row("alex.wilber", "new-pw")])
    assert "synced.csv:2: EmailAddress: alex.wilber@contoso.com is Synced" in synced
    # The file's own problems, in either format, before the tenant is asked.
    file_problems = refused("file.csv", TODAY, ["lynne.robbins@contoso.com,lynne,",
                                                _row(WRONG[0], RIGHT)])
    assert "file.csv:2: Password: is empty" in file_problems
    assert "file.csv:3: EmailAddress: lynne.robbins@contoso.com appears twice" in file_problems
    legacy = refused("legacy.csv", "SourceIdentity;SourceServer;SourceLoginID;"
                     "SourcePassword;TargetIdentity",
                     [f"Lynne;pop.gmail.com;lynne;{RIGHT};not-an-address"])
    assert "legacy.csv:2: TargetIdentity:" in legacy
    missing = refused("header.csv", "EmailAddress,UserName", ["lynne.robbins@contoso.com,x"])
    assert "header.csv" in missing and "Password" in missing
    nobody = refused("other.csv", TODAY, [_row(WRONG[0], RIGHT)], batch="no-such-batch")
    assert "no migration batch named no-such-batch" in nobody

    assert created(sandbox) == changes  # no Set-, Start- or any other change
    assert _users(cli, "bad") == before  # Lynne still failed, the others as they were
