"""psbridge task run and jobs, driven as a user would, against the sandbox.

The tenant is the sandbox's: the embedded one (no profile configured) or a separate
``psbridge sandbox serve`` with fault, throttling and command-log knobs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from e2e_cli import Cli, bulk_seed, helpdesk_profile, rows_csv, rows_done


def attributes(cli: Cli, *profile: str) -> dict[str, tuple[str | None, str | None]]:
    shown = cli.json(*profile, "task", "run", "custom/show-attribute")
    return {m["PrimarySmtpAddress"]: (m["CustomAttribute1"] or None, m["CustomAttribute2"] or None)
            for m in shown}


def wait_for_rows(home: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while rows_done(home) < count:
        assert time.monotonic() < deadline, f"only {rows_done(home)} rows done"
        time.sleep(0.05)


def statuses(cli: Cli, job_id: str) -> Counter[str]:
    return Counter(r["status"] for r in cli.json("jobs", "show", job_id))


def applied(sandbox: Any, cmdlet: str = "Set-Mailbox") -> Counter[str]:
    """How many times each mailbox met a successful ``cmdlet`` call (by default: was
    changed). ``Get-Mailbox`` counts how many times each row reached the host at all."""
    return Counter(c["parameters"]["Identity"] for c in sandbox.commands(cmdlet) if c["ok"])


def in_flight_keys(cli: Cli, job_id: str) -> set[str]:
    """The mailboxes of the rows a kill left unknown (sent, no answer recorded)."""
    return {r["key"] for r in cli.json("jobs", "show", job_id) if r["status"] == "unknown"}


def start_bulk_job(cli: Cli, serve: Any, tmp_path: Path, home: Path, *, rows: int,
                   template: str, column: str, cmdlet_ms: int, chunk: int,
                   running_until: int) -> tuple[Any, subprocess.Popen[str]]:
    """A served sandbox with ``rows`` bulk mailboxes and a job of ``template`` over them,
    returned once ``running_until`` rows have an outcome."""
    sandbox = serve("--cmdlet-ms", str(cmdlet_ms),
                    seed=str(bulk_seed(tmp_path / "seed.json", rows)))
    source = rows_csv(tmp_path / "rows.csv", f"Mailbox,{column}",
                      [f"bulk{i:04d}@contoso.com,v{i}" for i in range(rows)])
    job = cli.popen("--profile", "lab", "task", "run", template, "--csv", str(source),
                    "--chunk-size", str(chunk))
    wait_for_rows(home, running_until)
    return sandbox, job


def kill_9(job: subprocess.Popen[str]) -> None:
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)


def only_job_id(cli: Cli) -> str:
    (job,) = cli.json("jobs", "list")
    return job["id"]


def test_read_only_template_on_the_embedded_sandbox(cli: Cli) -> None:
    shared = cli.json("task", "run", "exchange/list-mailboxes",
                      "--param", "RecipientTypeDetails=SharedMailbox")
    addresses = {m["PrimarySmtpAddress"] for m in shared}
    assert "sales@contoso.com" in addresses
    assert {m["RecipientTypeDetails"] for m in shared} == {"SharedMailbox"}


def test_bulk_rows_change_once_then_report_unchanged(cli: Cli, tmp_path: Path) -> None:
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value",
                      ["sales@contoso.com,Dept-1", "adele.vance@contoso.com,Dept-2",
                       "nobody@contoso.com,Dept-3"])
    first = cli("task", "run", "custom/set-attribute", "--csv", str(source),
                "--results", str(tmp_path / "out.csv"), check=1)
    assert "2 changed, 1 failed" in first.stdout
    assert "ManagementObjectNotFoundException" in first.stdout
    results = (tmp_path / "out.csv").read_text().splitlines()
    assert results[0] == "row,Mailbox,status,message,error_id"
    assert results[1].startswith("2,sales@contoso.com,changed")
    assert [line.split(",")[2] for line in results[1:]] == ["changed", "changed", "failed"]
    second = cli("task", "run", "custom/set-attribute", "--csv", str(source), check=1)
    assert "2 unchanged, 1 failed" in second.stdout
    state = attributes(cli)
    assert state["sales@contoso.com"][0] == "Dept-1"
    assert state["adele.vance@contoso.com"][0] == "Dept-2"


def test_invalid_csv_changes_nothing(cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sandbox = serve()
    source = rows_csv(tmp_path / "bad.csv", "Mailbox,Valeu",
                      ["sales@contoso.com,x", "info@contoso.com,y"])
    result = cli("--profile", "lab", "task", "run", "custom/set-attribute", "--csv",
                 str(source), check=2)
    assert f"{source}:1: Valeu: unknown column" in result.stderr
    assert f"{source}:1: Value: required column is missing" in result.stderr
    assert sandbox.commands() == []
    assert cli.json("jobs", "list") == []


def test_dry_run_and_export_send_nothing(cli: Cli, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sandbox = serve()
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value", ["sales@contoso.com,x'; y"])
    dry = cli("--profile", "lab", "task", "run", "custom/set-attribute", "--csv", str(source),
              "--dry-run", check=0)
    assert "1 valid row(s)" in dry.stdout and "nothing was sent" in dry.stdout
    script = tmp_path / "review.ps1"
    cli("task", "run", "custom/set-attribute", "--csv", str(source), "--export", str(script),
        check=0)
    text = script.read_text()
    assert "'Value' = 'x''; y'" in text and "'_row' = 2" in text
    assert sandbox.commands() == []


def test_throttling_and_faults_still_end_with_every_row_right(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path) -> None:
    seed = bulk_seed(tmp_path / "seed.json", 150)
    sandbox = serve("--throttle-rate", "0.1", "--fault-rate", "0.05", "--random-seed", "11",
                    "--throttle-retry-s", "2", seed=str(seed))
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value",
                      [f"bulk{i:04d}@contoso.com,v{i}" for i in range(150)])
    result = cli("-v", "--profile", "lab", "task", "run", "custom/set-attribute", "--csv",
                 str(source), "--chunk-size", "10", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    throttled = [c for c in sandbox.commands() if not c["ok"]]
    assert throttled, "the sandbox should have throttled some calls"
    assert "row(s) throttled" in result.stderr, "the runner should have seen the throttling"
    assert [line for line in sandbox.output if line.startswith("injected fault")], \
        "the sandbox should have failed some requests"
    assert "(150 row(s) in" in result.stdout and "failed" not in result.stdout
    changes = applied(sandbox)
    assert len(changes) == 150 and set(changes.values()) == {1}


def test_kill_9_then_resume_applies_every_change_exactly_once(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    sandbox, job = start_bulk_job(cli, serve, tmp_path, isolated_home, rows=2000,
                                  template="custom/set-attribute", column="Value",
                                  cmdlet_ms=1, chunk=40, running_until=400)
    kill_9(job)
    job_id = only_job_id(cli)
    assert cli.json("jobs", "list")[0]["status"] == "interrupted"  # its process is gone
    partial = cli("--profile", "lab", "jobs", "resume", job_id, timeout=300, check=1)
    unknown = in_flight_keys(cli, job_id)
    assert unknown, "the kill should have caught chunks in flight"
    assert f"{len(unknown)} row(s) were in flight" in partial.stderr
    # Rows the first run finished were not sent again: each reached the host once.
    reads = applied(sandbox, "Get-Mailbox")
    assert {key: n for key, n in reads.items() if key not in unknown and n != 1} == {}
    cli("--profile", "lab", "jobs", "resume", job_id, "--rerun-unknown", check=0, timeout=300)
    final = statuses(cli, job_id)
    assert final["failed"] == 0 and final["changed"] + final["unchanged"] == 2000
    assert final["unchanged"] <= len(unknown)  # only rows applied just before the kill
    reads = applied(sandbox, "Get-Mailbox")
    assert len(reads) == 2000
    assert {key: n for key, n in reads.items() if key not in unknown and n != 1} == {}
    assert max(reads[key] for key in unknown) <= 2
    changes = applied(sandbox)
    assert len(changes) == 2000 and set(changes.values()) == {1}


def test_unknown_rows_of_a_generic_template_are_reported(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    sandbox, job = start_bulk_job(cli, serve, tmp_path, isolated_home, rows=600,
                                  template="custom/append-note", column="Note", cmdlet_ms=20,
                                  chunk=30, running_until=60)
    kill_9(job)
    job_id = only_job_id(cli)
    in_flight = in_flight_keys(cli, job_id)
    assert in_flight, "the kill should have caught chunks in flight"
    resumed = cli("--profile", "lab", "jobs", "resume", job_id, timeout=300, check=1)
    assert f"{len(in_flight)} row(s) were in flight" in resumed.stderr
    assert f"psbridge jobs resume {job_id} --rerun-unknown" in resumed.stderr
    after = statuses(cli, job_id)
    assert after["unknown"] == len(in_flight)
    assert after["changed"] == 600 - len(in_flight)
    # This template is not idempotent: a row sent twice would be appended twice. Every
    # row with an outcome was applied exactly once; the unknown ones at most once.
    changes = applied(sandbox)
    done = {f"bulk{i:04d}@contoso.com" for i in range(600)} - in_flight
    assert {key: changes[key] for key in done if changes[key] != 1} == {}
    assert max(changes[key] for key in in_flight) <= 1


def test_ctrl_c_records_what_came_back_and_resume_finishes(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    sandbox, job = start_bulk_job(cli, serve, tmp_path, isolated_home, rows=400,
                                  template="custom/set-attribute", column="Value",
                                  cmdlet_ms=5, chunk=20, running_until=40)
    job.send_signal(signal.SIGINT)
    output, _ = job.communicate(timeout=120)
    assert job.returncode == 130, output
    job_id = only_job_id(cli)
    assert f"hint: psbridge jobs resume {job_id}" in output
    assert statuses(cli, job_id)["unknown"] == 0, "Ctrl-C waits for the chunks in flight"
    cli("--profile", "lab", "jobs", "resume", job_id, check=0, timeout=300)
    assert statuses(cli, job_id)["changed"] == 400
    reads = applied(sandbox, "Get-Mailbox")
    assert len(reads) == 400 and set(reads.values()) == {1}, "a row was sent twice"
    changes = applied(sandbox)
    assert len(changes) == 400 and set(changes.values()) == {1}


def test_helpdesk_profile_is_refused_an_admin_template(cli: Cli, tmp_path: Path) -> None:
    cli("profile", "add", "desk", "--endpoint", "https://127.0.0.1:9/wsman", "--role",
        "helpdesk", check=0)
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value", ["sales@contoso.com,x"])
    refused = cli("--profile", "desk", "task", "run", "custom/set-attribute", "--csv",
                  str(source), check=2)
    assert "needs the admin role" in refused.stderr
    assert "helpdesk profile" in refused.stderr


def test_a_helpdesk_profile_cannot_resume_an_admin_job(  # type: ignore[no-untyped-def]
        cli: Cli, serve, tmp_path: Path, isolated_home: Path) -> None:
    sandbox, job = start_bulk_job(cli, serve, tmp_path, isolated_home, rows=300,
                                  template="custom/set-attribute", column="Value",
                                  cmdlet_ms=5, chunk=20, running_until=40)
    kill_9(job)
    job_id = only_job_id(cli)
    left = statuses(cli, job_id)
    assert left["pending"], "the kill should have left rows to do"
    calls = len(sandbox.commands())
    desk = helpdesk_profile(isolated_home)
    refused = cli("--profile", desk, "jobs", "resume", job_id, check=2)
    assert "needs the admin role" in refused.stderr
    assert statuses(cli, job_id) == left
    in_flight = in_flight_keys(cli, job_id)  # the host may still be finishing these
    assert not [c for c in sandbox.commands()[calls:] if c["cmdlet"] == "Set-Mailbox"
                and c["parameters"]["Identity"] not in in_flight]


def test_jobs_show_and_results_as_json(cli: Cli, tmp_path: Path) -> None:
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value", ["info@contoso.com,I-1"])
    cli("task", "run", "custom/set-attribute", "--csv", str(source), "--results",
        str(tmp_path / "out.json"), check=0)
    (record,) = json.loads((tmp_path / "out.json").read_text())  # .json: one JSON array
    assert record["row"] == 2 and record["status"] == "changed"
    job_id = only_job_id(cli)
    (row,) = cli.json("jobs", "show", job_id)
    assert row["key"] == "info@contoso.com" and row["status"] == "changed"


def test_resume_refuses_an_input_file_that_changed(cli: Cli, tmp_path: Path) -> None:
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value",
                      ["info@contoso.com,R-1", "nobody@contoso.com,R-2"])
    cli("task", "run", "custom/set-attribute", "--csv", str(source), check=1)
    job_id = only_job_id(cli)
    before = cli.json("jobs", "show", job_id)
    rows_csv(source, "Mailbox,Value", ["info@contoso.com,R-1", "sales@contoso.com,R-2"])
    refused = cli("jobs", "resume", job_id, check=2)
    assert f"{source}: the file changed since job {job_id} started" in refused.stderr
    assert cli.json("jobs", "show", job_id) == before
    assert attributes(cli)["sales@contoso.com"][0] is None
