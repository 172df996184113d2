"""psbridge migrate imap and mailbox protocols, driven as a user would, against the sandbox.

The sandbox emulates IMAP migrations (users go Queued -> Provisioning -> Syncing -> Synced;
a wrong IMAP password fails the user with an authentication error); ``--migration-speed``
makes the service's minutes pass in a second or two.
"""

from __future__ import annotations

import fcntl
import os
import pty
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from e2e_cli import Cli, rows_csv

from toolkit.tasks.migration.hosts import GMAIL_EXCLUDED_FOLDERS

# Queued 30 s + provisioning 30 s + about 30 s of copying: some 4 s at 20x, long enough
# for --watch to see the users move.
SPEED = ("--migration-speed", "20")
# For tests that count what --watch saw move: a quarter of SPEED, because a loaded machine
# makes each poll slower while the clock keeps going (at SPEED, under a load of 13-17 on 2
# cores, a batch was seen settled at the first poll).
WATCHED = ("--migration-speed", "5")
# The demo's Gmail accounts (toolkit/sandbox/tenant/demo.py): app password first-app-pw-2024.
GOOD = {"adele.vance": "adele-app-pw-2024", "alex.wilber": "alex-app-pw-2024",
        "christie.cline": "christie-app-pw-2024"}
WRONG = ("lynne.robbins", "lynne-old-password")
PASSWORDS = [*GOOD.values(), WRONG[1]]


def legacy_csv(path: Path, users: dict[str, str], server: str = "pop.gmail.com") -> Path:
    """The 2010-era POP tool's CSV as Excel writes it in Europe: BOM, semicolons, CRLF."""
    lines = ["SourceIdentity;SourceServer;SourceLoginID;SourcePassword;TargetIdentity"]
    lines += [f"{name};{server};{name}.contoso@gmail.com;{password};{name}@contoso.com"
              for name, password in users.items()]
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode())
    return path


def created(sandbox: object) -> list[str]:
    """Cmdlets that created, started, stopped or removed something."""
    return [c["cmdlet"] for c in sandbox.commands()  # type: ignore[attr-defined]
            if c["cmdlet"].split("-")[0] in ("New", "Start", "Stop", "Remove", "Set")]


def test_legacy_gmail_migration_planned_started_watched(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    sandbox = serve(*WATCHED)
    source = legacy_csv(tmp_path / "pop-users.csv", {**GOOD, WRONG[0]: WRONG[1]})
    lab = ("--profile", "lab")
    seen: list[str] = []

    def run(*args: str, check: int) -> subprocess.CompletedProcess[str]:
        result = cli(*lab, *args, check=check)
        seen.extend([result.stdout, result.stderr])
        return result

    planned = run("migrate", "imap", "plan", str(source), "--gmail", "--batch", "wave1", check=0)
    assert "pop.gmail.com is a POP server" in planned.stderr
    assert "using imap.gmail.com" in planned.stderr
    assert "legacy" in planned.stdout and "wave1" in planned.stdout
    assert "[Gmail]/All Mail" in planned.stdout and "[Gmail]/*" not in planned.stdout
    assert "only archived (no label left)" in " ".join(planned.stderr.split())
    assert created(sandbox) == []

    started = run("-v", "migrate", "imap", "start", str(source), "--gmail", "--batch", "wave1",
                  check=0)
    assert "1 changed" in started.stdout
    assert "'CSVData': '<secret, not shown>'" in started.stderr  # -v: rows, never CSV data
    assert created(sandbox) == ["New-MigrationEndpoint", "New-MigrationBatch"]
    (batch_call,) = sandbox.commands("New-MigrationBatch")
    # The command log shows whose rows were sent, never the rest of the CSV data.
    assert batch_call["parameters"]["CSVData"] == {
        "EmailAddress": [f"{n}@contoso.com" for n in (*GOOD, WRONG[0])],
        "other columns": "********"}
    # Only the folders that repeat labelled mail: Sent Mail and Drafts are moved.
    assert batch_call["parameters"]["ExcludeFolders"] == list(GMAIL_EXCLUDED_FOLDERS)

    watched = run("migrate", "imap", "status", "wave1", "--watch", "--interval", "0.3",
                  check=1)
    progress = [line for line in watched.stderr.splitlines() if line.startswith("wave1:")]
    assert len(progress) >= 2, watched.stderr  # plain lines, not a terminal
    assert "3 synced, 1 failed" in progress[-1]
    assert "3 synced, 1 failed" in watched.stderr
    assert "'psbridge migrate imap resume wave1' to retry failed users" in watched.stderr
    lynne = next(line for line in watched.stdout.splitlines() if "lynne.robbins" in line)
    assert "Failed" in lynne and "ImapAuthenticationException" in lynne

    reports = [tmp_path / f"wave1.{suffix}" for suffix in ("csv", "json", "html")]
    for report in reports:
        run("migrate", "imap", "report", "wave1", "--out", str(report), check=0)
    rows = (tmp_path / "wave1.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("batch,email,status,items_synced,items_skipped")
    assert any("lynne.robbins" in r and "Failed" in r and "credentials" in r for r in rows)
    assert sum(",Synced," in r for r in rows) == 3
    adele = next(r for r in rows if "adele.vance" in r).split(",")
    assert adele[3] == "40"  # each of her 40 messages once (tests/fidelity: Gmail folders)

    again = run("migrate", "imap", "start", str(source), "--gmail", "--batch", "wave1", check=0)
    assert "batch wave1 exists" in again.stdout and "nothing changed" in again.stdout
    assert created(sandbox) == ["New-MigrationEndpoint", "New-MigrationBatch"]

    stopped = run("migrate", "imap", "stop", "wave1", check=0)
    assert "Stopped" in stopped.stdout
    resumed = run("migrate", "imap", "resume", "wave1", check=0)
    assert "Syncing" in resumed.stdout
    assert sandbox.commands("Start-MigrationBatch")[-1]["parameters"]["Identity"] == "wave1"
    refused = run("migrate", "imap", "remove", "wave1", check=2)  # no terminal, no --yes
    assert "--yes" in refused.stderr
    removed = run("migrate", "imap", "remove", "wave1", "--yes", check=0)
    assert "daily incremental sync" in removed.stderr and "Removing" in removed.stdout

    # No password from the CSV anywhere: output (at -v too), journal, command log, reports.
    journal = isolated_home / "data" / "jobs.sqlite3"
    stores = [p for p in isolated_home.rglob("*") if p.is_file()]
    assert journal in stores and sandbox.command_log in stores
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 1
    seen.extend(sandbox.output)  # the sandbox's own console
    for password in PASSWORDS:
        assert not any(password in text for text in seen), password
        for store in [*stores, *reports]:
            assert password.encode() not in store.read_bytes(), (password, store)


def test_invalid_csv_creates_nothing(cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sandbox = serve(*SPEED)
    bad_file = tmp_path / "bad.csv"
    bad_file.write_text(
        "SourceIdentity;SourceServer;SourceLoginID;SourcePassword;TargetIdentity\n"
        "Adele;pop.gmail.com;adele.vance.contoso@gmail.com;;adele.vance@contoso.com\n"
        "Alex;pop.gmail.com;alex.wilber.contoso@gmail.com;pw;not-an-address\n"
        "Lynne;pop.gmail.com;lynne@gmail.com;pw;lynne.robbins@contoso.com\n"
        "Lynne2;pop.gmail.com;lynne2@gmail.com;pw;Lynne.Robbins@contoso.com\n",
        encoding="utf-8")
    result = cli("--profile", "lab", "migrate", "imap", "start", str(bad_file), "--batch", "w",
                 check=2)
    assert "bad.csv:2: SourcePassword: is empty" in result.stderr
    assert "bad.csv:3: TargetIdentity:" in result.stderr
    assert "bad.csv:5: TargetIdentity: Lynne.Robbins@contoso.com appears twice (first on " \
           "line 4)" in result.stderr
    assert sandbox.commands() == []  # refused before connecting

    tenant_bad = legacy_csv(tmp_path / "tenant.csv", {
        "adele.vance": GOOD["adele.vance"], "nobody": "x-pw", "nora.ahmed": "nora-app-pw-2024"})
    with tenant_bad.open("a", encoding="utf-8") as handle:
        handle.write("Zed;pop.unknown-isp.example;zed;pw;megan.bowen@contoso.com\r\n")
    result = cli("--profile", "lab", "migrate", "imap", "start", str(tenant_bad), "--batch",
                 "wave/1", check=2)
    assert "tenant.csv:3: TargetIdentity: no mailbox nobody@contoso.com" in result.stderr
    assert "tenant.csv:4: TargetIdentity: no mailbox nora.ahmed@contoso.com" in result.stderr
    assert "tenant.csv:5: SourceServer: pop.unknown-isp.example is a POP server" in result.stderr
    assert "batch name 'wave/1'" in result.stderr
    assert "nothing was changed" in result.stderr
    assert created(sandbox) == []
    assert sandbox.commands("Get-MgUserLicenseDetail")  # the pre-flight did look


def _pty_run(cli: Cli, *args: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a 160-column pseudo-terminal."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {k: v for k, v in cli.env.items() if k != "COLUMNS"}
    process = subprocess.Popen([sys.executable, "-m", "toolkit", *args], env=env,
                               stdin=subprocess.DEVNULL, stdout=child, stderr=child)
    os.close(child)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child side closed: the process ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return process.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


def test_watch_draws_progress_bars_on_a_terminal(cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    serve(*SPEED)
    source = rows_csv(tmp_path / "today.csv", "EmailAddress,UserName,Password",
                      [f"{n}@contoso.com,{n}.contoso@gmail.com,{p}" for n, p in GOOD.items()])
    cli("--profile", "lab", "migrate", "imap", "start", str(source), "--gmail", "--batch",
        "tty", check=0)
    code, screen = _pty_run(cli, "--profile", "lab", "migrate", "imap", "status", "tty",
                            "--watch", "--interval", "0.3")
    assert code == 0, screen
    assert "\x1b[" in screen  # drawn with terminal control sequences
    assert "━" in screen  # rich's bar
    assert "3 synced" in screen and "/3" in screen and "items" in screen
    assert "all synced: 3 user(s): 3 synced" in screen


def test_watch_reads_each_users_statistics_only_when_its_state_changes(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    """A poll is one Get-MigrationUser per batch (states and item counts of every user);
    Get-MigrationUserStatistics only for a user whose state changed or who failed: the
    claim needs polls in which nothing changed."""
    sandbox = serve(*WATCHED)
    users = {**GOOD, WRONG[0]: WRONG[1]}
    source = rows_csv(tmp_path / "wave.csv", "EmailAddress,UserName,Password",
                      [f"{n}@contoso.com,{n}.contoso@gmail.com,{p}" for n, p in users.items()])
    cli("--profile", "lab", "migrate", "imap", "start", str(source), "--gmail", "--batch",
        "poll", check=0)
    before = {c: len(sandbox.commands(c)) for c in ("Get-MigrationBatch", "Get-MigrationUser")}
    watched = cli("--profile", "lab", "migrate", "imap", "status", "poll", "--watch",
                  "--interval", "0.2", check=1)
    assert "3 synced, 1 failed" in watched.stderr
    polls = len(sandbox.commands("Get-MigrationBatch")) - before["Get-MigrationBatch"]
    assert polls >= 5  # the users moved while being watched: enough polls to compare
    assert len(sandbox.commands("Get-MigrationUser")) - before["Get-MigrationUser"] == polls
    statistics = [c["parameters"]["Identity"]
                  for c in sandbox.commands("Get-MigrationUserStatistics")]
    # Queued -> Provisioning -> Syncing -> Synced (or Failed): at most one read per change.
    assert max(statistics.count(f"{n}@contoso.com") for n in users) <= 4
    assert len(statistics) < polls * len(users) / 2
    # What only the statistics say is still shown: the failed user's error, the item totals.
    lynne = next(line for line in watched.stdout.splitlines() if "lynne.robbins" in line)
    assert "ImapAuthenticationException" in lynne


def test_mailbox_protocols_in_bulk(cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sandbox = serve()
    lab = ("--profile", "lab")
    bad = rows_csv(tmp_path / "bad.csv", "Mailbox;Pop;Imap", ["adele.vance@contoso.com;maybe;on"])
    result = cli(*lab, "mailbox", "protocols", str(bad), check=2)
    assert "bad.csv:2: Pop: 'maybe': expected on or off" in result.stderr
    assert sandbox.commands() == []

    rows = ["adele.vance@contoso.com;off;off", "alex.wilber@contoso.com;;off",
            "sales@contoso.com;off;"]
    typo = rows_csv(tmp_path / "typo.csv", "Mailbox;Pop;Imap", [*rows, "alex.wilbr@contoso.com;on;on"])
    refused = cli(*lab, "mailbox", "protocols", str(typo), check=2)  # every row checked first
    assert "line 5: Mailbox: no mailbox alex.wilbr@contoso.com; did you mean " \
        "alex.wilber@contoso.com?" in refused.stderr
    assert sandbox.commands("Set-CASMailbox") == []

    source = rows_csv(tmp_path / "clients.csv", "Mailbox;Pop;Imap", rows)
    first = cli(*lab, "mailbox", "protocols", str(source), "--results",
                str(tmp_path / "out.csv"), check=0)
    assert "3 changed" in first.stdout
    sets = {c["parameters"]["Identity"]: c["parameters"] for c in sandbox.commands("Set-CASMailbox")}
    assert sets["adele.vance@contoso.com"] == {"Identity": "adele.vance@contoso.com",
                                               "PopEnabled": False, "ImapEnabled": False}
    assert sets["alex.wilber@contoso.com"] == {"Identity": "alex.wilber@contoso.com",
                                               "ImapEnabled": False}
    second = cli(*lab, "mailbox", "protocols", str(source), check=0)
    assert "3 unchanged" in second.stdout
    assert len(sandbox.commands("Set-CASMailbox")) == 3

    single = cli(*lab, "mailbox", "protocols", "--mailbox", "adele.vance@contoso.com",
                 "--imap", "on", check=0)
    assert "1 changed" in single.stdout
    assert sandbox.commands("Set-CASMailbox")[-1]["parameters"] == {
        "Identity": "adele.vance@contoso.com", "ImapEnabled": True}
    cli(*lab, "mailbox", "protocols", "--mailbox", "x@contoso.com", check=2)  # nothing to do


def test_split_batches_add_users_and_resume_after_a_crash(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    sandbox = serve()
    lab = ("--profile", "lab")
    people = {**GOOD, "isaiah.langer": "isaiah-app-pw-2024", "miriam.graham": "miriam-app-pw-2024"}
    rows = [f"{n}@contoso.com,{n}.contoso@gmail.com,{p}" for n, p in people.items()]
    first = rows_csv(tmp_path / "first.csv", "EmailAddress,UserName,Password", rows[:3])
    started = cli(*lab, "migrate", "imap", "start", str(first), "--gmail", "--batch", "w",
                  "--batch-size", "2", "--no-auto-start", check=0)
    assert "2 changed" in started.stdout
    shown = cli.json(*lab, "migrate", "imap", "status", "w")
    assert [(b["batch"], b["users"], b["status"]) for b in shown["batches"]] == [
        ("w", 2, "Created"), ("w-2", 1, "Created")]

    everyone = rows_csv(tmp_path / "all.csv", "EmailAddress,UserName,Password", rows)
    same = cli(*lab, "migrate", "imap", "start", str(everyone), "--gmail", "--batch", "w",
               "--batch-size", "2", "--no-auto-start", check=0)
    assert "nothing changed" in same.stdout
    added = cli(*lab, "migrate", "imap", "start", str(everyone), "--gmail", "--batch", "w",
                "--batch-size", "2", "--no-auto-start", "--add-users", check=0)
    assert "3 user(s) already in the batch" in added.stdout and "1 changed" in added.stdout
    assert len(sandbox.commands("New-MigrationBatch")) == 3
    assert len(sandbox.commands("New-MigrationEndpoint")) == 1  # reused

    # A crash after the batch was sent, before its outcome was recorded (kill -9).
    journal = isolated_home / "data" / "jobs.sqlite3"
    with sqlite3.connect(journal) as db:
        (job_id,) = db.execute("SELECT id FROM jobs ORDER BY started DESC LIMIT 1").fetchone()
        db.execute("UPDATE rows SET status = 'sent' WHERE job_id = ?", (job_id,))
        db.execute("UPDATE jobs SET status = 'interrupted' WHERE id = ?", (job_id,))
    resumed = cli(*lab, "jobs", "resume", job_id, check=0)
    assert "1 unchanged" in resumed.stdout  # the tenant has it: not created twice
    assert len(sandbox.commands("New-MigrationBatch")) == 3

    cli(*lab, "migrate", "imap", "resume", "w", check=0)
    assert {c["parameters"]["Identity"] for c in sandbox.commands("Start-MigrationBatch")} == {
        "w", "w-2", "w-3"}


def test_server_availability(cli: Cli, serve) -> None:  # type: ignore[no-untyped-def]
    sandbox = serve()
    lab = ("--profile", "lab", "migrate", "imap", "test")
    gmail = cli(*lab, "--server", "pop.gmail.com", check=0)
    assert "testing its IMAP server imap.gmail.com" in gmail.stderr
    assert "imap.gmail.com (port 993, SSL): reachable from Exchange Online" in gmail.stdout
    wrong = cli(*lab, "--server", "mail.contoso-legacy.com", check=1)
    assert "cannot reach it" in wrong.stderr and "port 993" in wrong.stderr
    cli(*lab, "--server", "mail.contoso-legacy.com", "--port", "143", "--security", "tls",
        check=0)
    assert [c["parameters"]["Security"] for c in
            sandbox.commands("Test-MigrationServerAvailability")] == ["Ssl", "Ssl", "Tls"]
    missing = cli(*lab, "--server", "imap.gmail.com", "--user", "a", "--password-env",
                  "NOT_SET_ANYWHERE", check=2)
    assert "NOT_SET_ANYWHERE: the variable is not set" in missing.stderr
