"""Bulk work under injected transport faults and throttling, and under signals: every row
is applied exactly once, no shell is left behind, and concurrent jobs on one profile all
finish. The sandbox's command log is the witness of what the tenant really ran."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

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
