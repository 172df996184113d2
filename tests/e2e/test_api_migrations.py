"""``ws.migrations`` as a script uses it against the sandbox: start, status, a watch to the
end, a report, stopping and resuming, and the server test; the structured errors on bad
input, with nothing sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolkit import Workspace
from toolkit.api.migrations import BatchState, MigrationOptions
from toolkit.core.errors import InputError, PartialFailure

SPEED = ("--migration-speed", "20")  # the service's minutes pass in a second or two
USERS = {"adele.vance": "adele-app-pw-2024", "lynne.robbins": "lynne-old-password"}


def sent(sandbox: Any, cmdlet: str) -> list[dict[str, Any]]:
    return [c["parameters"] for c in sandbox.commands(cmdlet) if c["ok"]]


def test_a_started_batch_is_followed_reported_stopped_and_resumed(
        serve: Any, tmp_path: Path) -> None:
    sandbox = serve(*SPEED)
    source = tmp_path / "wave.csv"
    source.write_text("EmailAddress,UserName,Password\n" + "".join(
        f"{n}@contoso.com,{n}.contoso@gmail.com,{p}\n" for n, p in USERS.items()),
        encoding="utf-8")
    polls: list[list[BatchState]] = []
    with Workspace("lab") as ws:
        run = ws.migrations.start(source, batch="api", options=MigrationOptions(gmail=True))
        assert run is not None and run.summary.counts["changed"] == 1

        (batch,) = ws.migrations.status(["api"])
        assert (batch.name, len(batch.users)) == ("api", 2)

        watched = ws.migrations.watch(["api"], interval=0.2, timeout=120,
                                      on_poll=polls.append)
        assert watched.settled and not watched.ok  # lynne's password is wrong
        assert watched.summary == "2 user(s): 1 synced, 1 failed"
        assert watched.failed == ["api"]
        assert polls and polls[-1] is watched.batches

        written = ws.migrations.report("api", tmp_path / "api.csv")
        assert (written.users, written.batches) == (2, 1)
        with pytest.raises(InputError, match=r"use a \.json, \.csv or \.html"):
            ws.migrations.report("api", tmp_path / "api.txt")

        (stopped,) = ws.migrations.stop("api")
        assert (stopped.batch, stopped.ok, stopped.status) == ("api", True, "Stopped")
        (started,) = ws.migrations.resume("api")
        assert (started.batch, started.ok) == ("api", True)
        with pytest.raises(InputError, match="no migration batch named nothing"):
            ws.migrations.stop("nothing")
    rows = (tmp_path / "api.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("batch,email,status,items_synced")
    assert not (tmp_path / "api.txt").exists()
    assert [p["Identity"] for p in sent(sandbox, "Stop-MigrationBatch")] == ["api"]
    assert len(sent(sandbox, "New-MigrationBatch")) == 1


def test_the_server_test_maps_pop_hosts_and_raises_when_unreachable(serve: Any) -> None:
    sandbox = serve()
    with Workspace("lab") as ws:
        gmail = ws.migrations.source_server("pop.gmail.com", 110, "none")
        assert (gmail.server.host, gmail.server.port, gmail.pop_host) == (
            "imap.gmail.com", 993, "pop.gmail.com")
        (check,) = ws.migrations.test_endpoint(gmail)
        assert (check.server, check.check) == ("imap.gmail.com (port 993, SSL)",
                                               "reachable from Exchange Online")
        with pytest.raises(InputError, match=r"pop\.unknown-isp\.example is a POP server"):
            ws.migrations.source_server("pop.unknown-isp.example")
        with pytest.raises(PartialFailure, match="cannot reach it"):
            ws.migrations.test_endpoint("mail.contoso-legacy.com")  # 993/SSL: closed
    assert [p["RemoteServer"] for p in sent(sandbox, "Test-MigrationServerAvailability")] == [
        "imap.gmail.com", "mail.contoso-legacy.com"]
