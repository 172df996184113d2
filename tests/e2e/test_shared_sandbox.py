"""The embedded sandbox is one server per data folder, shared by every command (issue 15.1).

Commands on the default ``sandbox`` profile that run at the same time must see and keep
each other's changes; a ``kill -9`` of any command, or of the server itself, loses nothing
that was reported done and leaves no state that cannot be read back.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from e2e_cli import Cli

MAILBOX = "info@contoso.com"
TRUSTEES = ("adele.vance@contoso.com", "alex.wilber@contoso.com", "debra.berger@contoso.com",
            "diego.siciliani@contoso.com", "grady.archie@contoso.com", "megan.bowen@contoso.com")


def full_access(cli: Cli, mailbox: str = MAILBOX) -> set[str]:
    records = cli.json("perms", "who-can-access", mailbox, "--live")
    return {r["trustee"] for r in records if r["right"] == "FullAccess"}


def _first_pid(record: Path) -> int:
    """The pid in the server record, once there is one."""
    while True:
        try:
            return int(json.loads(record.read_text())["pid"])
        except FileNotFoundError:
            time.sleep(0.01)


def server_record(home: Path) -> dict[str, object]:
    record: dict[str, object] = json.loads(
        (home / "data" / "sandbox" / "server.json").read_text())
    return record


@pytest.mark.slow
def test_commands_running_at_once_keep_each_others_changes(cli: Cli, isolated_home: Path) -> None:
    assert full_access(cli) == set()  # starts the shared server
    # Three commands at a time: Exchange Online's limit of three connections per account
    # holds on the shared sandbox too (more wait for a slot once the runner does).
    for pair in (TRUSTEES[0:2], TRUSTEES[2:4], TRUSTEES[4:6]):
        running = [cli.popen("perms", "who-can-access", MAILBOX, "--live"),
                   *(cli.popen("perms", "grant", MAILBOX, trustee, "--right", "FullAccess")
                     for trustee in pair)]
        for process in running:
            output, _ = process.communicate(timeout=300)
            assert process.returncode == 0, output
    assert full_access(cli) == set(TRUSTEES)
    # and the same tenant after the server is stopped and started again
    stopped = cli("sandbox", "stop", check=0)
    assert "stopped the embedded sandbox" in stopped.stdout
    assert "no embedded sandbox is running" in cli("sandbox", "stop", check=0).stdout
    assert full_access(cli) == set(TRUSTEES)


def test_one_server_serves_every_command_and_a_stale_record_is_replaced(
        cli: Cli, isolated_home: Path) -> None:
    cli("perms", "grant", MAILBOX, TRUSTEES[0], "--right", "SendAs", check=0)
    first = server_record(isolated_home)
    cli("perms", "access-of", TRUSTEES[0], "--live", check=0)
    assert server_record(isolated_home)["pid"] == first["pid"]
    mode = (isolated_home / "data" / "sandbox" / "server.json").stat().st_mode & 0o777
    assert mode == 0o600  # it holds the sandbox admin's password

    os.kill(int(str(first["pid"])), signal.SIGKILL)  # the record now names a dead process
    records = cli.json("perms", "access-of", TRUSTEES[0], "--live")
    assert {(r["mailbox"], r["right"]) for r in records} >= {(MAILBOX, "SendAs")}
    assert server_record(isolated_home)["pid"] != first["pid"]


def test_kill_9_of_a_command_or_of_the_server_loses_nothing_reported_done(
        cli: Cli, isolated_home: Path) -> None:
    cli("perms", "grant", MAILBOX, TRUSTEES[0], "--right", "FullAccess", check=0)
    pid = int(str(server_record(isolated_home)["pid"]))

    # a command killed mid-run: the others go on, and the server keeps serving
    victim = cli.popen("perms", "grant", MAILBOX, TRUSTEES[1], "--right", "FullAccess")
    others = [cli.popen("perms", "grant", MAILBOX, trustee, "--right", "FullAccess")
              for trustee in TRUSTEES[2:4]]
    time.sleep(0.5)
    victim.kill()
    victim.wait()
    for process in others:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
    assert server_record(isolated_home)["pid"] == pid
    assert full_access(cli) >= {TRUSTEES[0], *TRUSTEES[2:4]}

    # the server killed while commands change the tenant: what they reported done stays
    running = [cli.popen("perms", "grant", MAILBOX, trustee, "--right", "FullAccess")
               for trustee in TRUSTEES[4:]]
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)
    reported: list[str] = []
    for trustee, process in zip(TRUSTEES[4:], running, strict=True):
        output, _ = process.communicate(timeout=300)
        if process.returncode == 0 and "1 changed" in output:
            reported.append(trustee)
    state = isolated_home / "data" / "sandbox" / "state.json"
    json.loads(state.read_text())  # never half written
    now = full_access(cli)  # a new server, from the saved state
    assert now >= {TRUSTEES[0], *TRUSTEES[2:4], *reported}


def test_the_server_ends_by_itself_when_idle(cli: Cli, isolated_home: Path) -> None:
    # A command that found the server gets one idle period to use it: at 1 s, a loaded
    # machine's command was still starting when the server ended (exit 4, cannot reach).
    idle = {"PSBRIDGE_SANDBOX_IDLE_S": "10"}
    record = isolated_home / "data" / "sandbox" / "server.json"
    # The server's pid is read while the command uses the server: once the command has
    # ended, a loaded machine may let the idle server end before the test looks.
    seen: list[int] = []
    watcher = threading.Thread(target=lambda: seen.append(_first_pid(record)), daemon=True)
    watcher.start()
    cli("perms", "who-can-access", MAILBOX, "--live", check=0, extra_env=idle)
    watcher.join()
    pid = seen[0]
    while record.exists():  # the idle server removes its record as it ends
        time.sleep(0.05)
    cli("perms", "who-can-access", MAILBOX, "--live", check=0)
    assert server_record(isolated_home)["pid"] != pid
