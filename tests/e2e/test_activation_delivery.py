"""Activation hands over what it produces: every row in --results, one JSON document per
command, and every temporary password delivered (or named as undelivered)."""

from __future__ import annotations

import csv
import signal
import stat
import time
from pathlib import Path

from e2e_cli import Cli, rows_csv, rows_done

HEADER = "UserPrincipalName,DisplayName,FirstName,LastName,UsageLocation,Licenses,Aliases"
LAB = ("--profile", "lab")


def test_results_keep_the_rows_of_every_phase(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    serve("--mailbox-delay-s", "2")
    source = rows_csv(tmp_path / "hires.csv", HEADER, [
        "nora.ahmed@contoso.com,,,,,ENTERPRISEPACK,nora@contoso.com",
        "omar.haddad@contoso.com,,,,,ENTERPRISEPACK,omar@contoso.com",
        "quinn.baker@contoso.com,,,,,ENTERPRISEPACK,"])
    results = tmp_path / "results.csv"
    run = cli(*LAB, "users", "activate", str(source), "--mailbox-timeout", "60s",
              "--credentials-out", str(tmp_path / "creds.csv"), "--results", str(results),
              check=0)
    assert "waiting up to 60s" in run.stderr
    with results.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    final = {r["user"]: r["status"] for r in rows}  # the alias phase's rows come last
    assert final == {"nora.ahmed@contoso.com": "changed", "omar.haddad@contoso.com": "changed",
                     "quinn.baker@contoso.com": "changed"}, rows


def killed_activation(cli: Cli, home: Path, tmp_path: Path) -> tuple[Path, set[str]]:
    """An activation without --credentials-out, killed with kill -9 once two rows are done:
    its CSV and the accounts it switched on."""
    upns = [f"new{i}@contoso.com" for i in range(8)]
    source = rows_csv(tmp_path / "hires.csv", HEADER,
                      [f"{upn},New {i},,,US,ENTERPRISEPACK," for i, upn in enumerate(upns)])
    job = cli.popen(*LAB, "users", "activate", str(source), "--chunk-size", "1",
                    "--concurrency", "1")
    while rows_done(home) < 2:
        assert job.poll() is None, "the job ended before it could be killed"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    found = cli.json(*LAB, "task", "run", "graph/get-users", "--param",
                     "UserPrincipalName=" + ",".join(upns))
    enabled = {u["UserPrincipalName"] for u in found if u["AccountEnabled"]}
    assert len(enabled) >= 2
    return source, enabled


def assert_named_with_their_spool(output: str, enabled: set[str], home: Path) -> None:
    """Every account switched on is named, with reset-password offered, and its password
    is in an owner-only spool."""
    notice = next(line for line in output.splitlines() if "never shown" in line)
    assert all(upn in notice for upn in enabled), (enabled, notice)
    assert "psbridge users reset-password" in output
    (spool,) = (home / "data" / "undelivered-passwords").glob("*.csv")
    assert stat.S_IMODE(spool.stat().st_mode) == 0o600
    with spool.open(encoding="utf-8", newline="") as handle:
        kept = {r["UserPrincipalName"] for r in csv.DictReader(handle)}
    assert enabled <= kept


def test_passwords_of_a_killed_activation_are_named_not_lost(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path, tmp_path: Path) -> None:
    """kill -9 without --credentials-out: every account switched on is named afterwards,
    with the owner-only file that holds its password and the reset-password command."""
    serve("--cmdlet-ms", "100")
    _, enabled = killed_activation(cli, isolated_home, tmp_path)
    (listed,) = cli.json("jobs", "list")
    resumed = cli(*LAB, "jobs", "resume", listed["id"])
    assert_named_with_their_spool(resumed.stderr, enabled, isolated_home)


def test_running_a_killed_activation_again_names_the_passwords_not_shown(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path, tmp_path: Path) -> None:
    """The other way back after kill -9 (issue 19, item 5): the same command on the same
    CSV. The accounts the dead run switched on are already on, so the new run sets them no
    password: it names them, with their spool, before it changes anything else."""
    serve("--cmdlet-ms", "100")
    source, enabled = killed_activation(cli, isolated_home, tmp_path)
    again = cli(*LAB, "users", "activate", str(source), check=0)
    assert_named_with_their_spool(again.stderr, enabled, isolated_home)
    assert again.stderr.index("never shown") < again.stderr.index("job ")


def test_json_output_is_one_document_with_a_waiting_phase(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    import json

    serve("--mailbox-delay-s", "2")
    source = rows_csv(tmp_path / "hires.csv", HEADER, [
        "nora.ahmed@contoso.com,,,,,ENTERPRISEPACK,nora@contoso.com",
        "quinn.baker@contoso.com,,,,,ENTERPRISEPACK,"])
    run = cli("--output", "json", *LAB, "users", "activate", str(source), "--mailbox-timeout",
              "60s", "--credentials-out", str(tmp_path / "creds.csv"), check=0)
    summary = json.loads(run.stdout)  # one document, not two arrays one after the other
    assert {r["status"] for r in summary} >= {"changed", "waiting"}
    assert len({r["job"] for r in summary}) == 1
