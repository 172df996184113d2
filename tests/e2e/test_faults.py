"""Bulk work under injected transport faults and throttling, and under signals: every row
is applied exactly once, no shell is left behind, and concurrent jobs on one profile all
finish. The sandbox's command log is the witness of what the tenant really ran."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from e2e_cli import Cli, bulk_seed, rows_csv, rows_done

LAB = ("--profile", "lab")
CHANGE_CMDLETS = ("Add-MailboxPermission", "Add-RecipientPermission", "Set-Mailbox")


def applied(sandbox: Any) -> Counter[tuple[str, str, str]]:
    """(cmdlet, identity, trustee) -> how many times the tenant applied it."""
    return Counter(
        (c["cmdlet"], c["parameters"]["Identity"],
         str(c["parameters"].get("User") or c["parameters"].get("Trustee")
             or c["parameters"].get("GrantSendOnBehalfTo")))
        for c in sandbox.commands() if c["cmdlet"] in CHANGE_CMDLETS and c["ok"])


def grant_rows(path: Path, mailboxes: int, first: int = 0) -> Path:
    rights = ("FullAccess", "SendAs", "SendOnBehalf", "FullAccess", "SendAs")
    lines = [f"bulk{i:04d}@contoso.com,bulk{(i + 1 + k) % 1000:04d}@contoso.com,{right}"
             for i in range(first, first + mailboxes) for k, right in enumerate(rights)]
    return rows_csv(path, "Mailbox,Trustee,Right", lines)


@pytest.mark.slow
def test_500_rows_under_faults_and_throttling_apply_each_once(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    seed = bulk_seed(tmp_path / "seed.json", 1000)
    sandbox = serve("--fault-rate", "0.1", "--throttle-rate", "0.2", "--throttle-retry-s", "1",
                    "--random-seed", "19", seed=str(seed))
    source = grant_rows(tmp_path / "rows.csv", 100)
    result = cli(*LAB, "perms", "apply", str(source), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert [c for c in sandbox.commands() if not c["ok"]], "the sandbox should have failed calls"
    counts = applied(sandbox)
    assert len(counts) == 500 and set(counts.values()) == {1}, counts.most_common(3)
    (listed,) = cli.json("jobs", "list")
    rows = cli.json("jobs", "show", listed["id"])
    assert {r["status"] for r in rows} == {"changed"}
    # A change whose answer was lost is confirmed in the tenant, not called "already so".
    assert any(r["message"] == "changed, confirmed after retry" for r in rows)
    assert not any("already" in r["message"] for r in rows)


def test_two_concurrent_applies_on_one_profile_both_finish(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    """Six connections wanted, three allowed per account: the jobs wait for a free one."""
    seed = bulk_seed(tmp_path / "seed.json", 1000)
    sandbox = serve("--cmdlet-ms", "5", seed=str(seed))
    first = cli.popen(*LAB, "perms", "apply", str(grant_rows(tmp_path / "a.csv", 100)))
    second = cli.popen(*LAB, "perms", "apply", str(grant_rows(tmp_path / "b.csv", 100, 100)))
    outputs = [job.communicate(timeout=900)[0] for job in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], "\n".join(outputs)[-4000:]
    assert "maximum number of connections" in "".join(
        str(c.get("error")) + c["cmdlet"] for c in sandbox.commands()
        if c["cmdlet"] == "Connect-ExchangeOnline" and not c["ok"]) or any(
        c.get("error") == "PSRemotingTransportException" for c in sandbox.commands()), (
        "the account's connection limit should have been met")
    counts = applied(sandbox)
    assert len(counts) == 1000 and set(counts.values()) == {1}, counts.most_common(3)


def test_sigterm_stops_like_ctrl_c_and_resume_finishes(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    """What systemd and CI send: exit 143, the job resumable, no shell left on the host."""
    seed = bulk_seed(tmp_path / "seed.json", 1000)
    sandbox = serve("--cmdlet-ms", "8", seed=str(seed))
    source = grant_rows(tmp_path / "rows.csv", 60)
    job = cli.popen(*LAB, "perms", "apply", str(source), "--chunk-size", "10")
    while rows_done(isolated_home) < 30:
        assert job.poll() is None, "the job ended before it could be stopped"
        time.sleep(0.05)
    job.send_signal(signal.SIGTERM)
    output = job.communicate(timeout=120)[0]
    assert job.returncode == 143, output
    (listed,) = cli.json("jobs", "list")
    assert f"psbridge jobs resume {listed['id']}" in output
    assert listed["status"] == "interrupted"
    shells = isolated_home / "data" / "shells"
    assert not list(shells.glob("*.json")), "every shell was closed and confirmed"
    cli(*LAB, "jobs", "resume", listed["id"], check=0, timeout=300)
    counts = applied(sandbox)
    assert len(counts) == 300 and set(counts.values()) == {1}, counts.most_common(3)


def test_resume_retry_failed_reruns_only_transient_failures(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    """Rows that failed because their retries ran out are run again; a row that failed for
    good is left alone. (The failures are written into the job store: a real budget of
    ten minutes of throttling is too long for a test.)"""
    import sqlite3

    sandbox = serve(seed=str(bulk_seed(tmp_path / "seed.json", 20)))
    source = grant_rows(tmp_path / "rows.csv", 2)  # 10 grants on bulk0000 and bulk0001
    cli(*LAB, "perms", "apply", str(source), check=0)
    (listed,) = cli.json("jobs", "list")
    shown = {r["row"]: r for r in cli.json("jobs", "show", listed["id"])}
    transient, permanent = [2, 3], 4
    for line in (*transient, permanent):
        mailbox, trustee, right = (source.read_text().splitlines()[line - 1]).split(",")
        cli(*LAB, "perms", "revoke", mailbox, trustee, "--right", right, check=0)
    with sqlite3.connect(isolated_home / "data" / "jobs.sqlite3") as db:
        db.executemany("UPDATE rows SET status = 'failed', error_id = ?, message = ? "
                       "WHERE job_id = ? AND row = ?",
                       [("RetriesExhausted", "gave up after retries", listed["id"], r)
                        for r in transient]
                       + [("ManagementObjectNotFoundException", "not found", listed["id"],
                           permanent)])
        db.execute("UPDATE jobs SET status = 'partial' WHERE id = ?", (listed["id"],))
    resumed = cli(*LAB, "jobs", "resume", listed["id"], "--retry-failed", check=0)
    assert "2 failed row(s) with a transient error will be run again" in resumed.stderr
    after = {r["row"]: r["status"] for r in cli.json("jobs", "show", listed["id"])}
    assert [after[r] for r in transient] == ["changed", "changed"]
    assert after[permanent] == "failed"
    assert set(shown) == set(after)
    counts = applied(sandbox)  # granted by the first run, and again by the resume
    assert counts[("Add-MailboxPermission", "bulk0000@contoso.com", "bulk0001@contoso.com")] == 2
    assert counts[("Add-RecipientPermission", "bulk0000@contoso.com", "bulk0002@contoso.com")] == 2
    assert [n for key, n in counts.items() if key[0] == "Set-Mailbox"
            and "Add': 'bulk0003" in key[2] and key[1] == "bulk0000@contoso.com"] == [1]


def test_sigterm_during_the_plan_read_stops_reading(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    """Stopped while it reads the tenant: the reads in flight end, no new one starts, and
    nothing is changed."""
    sandbox = serve("--cmdlet-ms", "20", seed=str(bulk_seed(tmp_path / "seed.json", 1000)))
    source = grant_rows(tmp_path / "rows.csv", 1000)
    job = cli.popen(*LAB, "perms", "apply", str(source), "--concurrency", "1")
    while not sandbox.commands("Get-MailboxPermission"):
        assert job.poll() is None, "the command ended before it could be stopped"
        time.sleep(0.05)
    job.send_signal(signal.SIGTERM)
    output = job.communicate(timeout=300)[0]
    assert job.returncode == 143, output
    assert not applied(sandbox)
    read = {c["parameters"]["Identity"] for c in sandbox.commands("Get-MailboxPermission")}
    assert len(read) < 500, "the read went on after the stop"
