"""Shells on the management host are released: a shell whose delete failed stays in the
ledger until a later delete is confirmed, against a real sandbox host over pypsrp."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.core.session import Connection, Endpoint
from toolkit.core.shell_ledger import ShellLedger
from toolkit.sandbox.server import RunningSandbox, SandboxOptions, start_sandbox


@pytest.fixture
def host(tmp_path: Path) -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(state=tmp_path / "state.json")) as running:
        yield running


def endpoint_of(host: RunningSandbox) -> Endpoint:
    return Endpoint(url=host.url, auth="basic", username=host.username,
                    password=host.password, encryption="never")


def open_shells(host: RunningSandbox) -> int:
    return len(host._server.wsman._pools)


def test_a_close_that_fails_keeps_the_record_until_a_delete_is_confirmed(
        host: RunningSandbox, tmp_path: Path) -> None:
    ledger = ShellLedger(tmp_path / "shells")
    endpoint = endpoint_of(host)
    connection = Connection(endpoint, ledger)
    assert open_shells(host) == 1
    host._server.conditions.fault_rate = 1.0  # every request fails while it closes
    connection.close()
    host._server.conditions.fault_rate = 0.0
    assert open_shells(host) == 1 and len(list(ledger.root.glob("*.json"))) == 1
    assert ledger.reap(endpoint) == 1  # the next connection's reap closes it
    assert open_shells(host) == 0 and not list(ledger.root.glob("*.json"))


def test_a_dead_process_shell_is_forgotten_only_once_deleted(
        host: RunningSandbox, tmp_path: Path) -> None:
    """After kill -9, a run with a wrong password cannot delete the shell: it stays recorded
    and the next run with the right password deletes it."""
    ledger = ShellLedger(tmp_path / "shells")
    endpoint = endpoint_of(host)
    connection = Connection(endpoint, ledger)
    (record,) = ledger.root.glob("*.json")
    record.write_text(json.dumps({**json.loads(record.read_text()), "pid": 2**22 + 7}))
    connection._record = None  # the "killed" process never closes it itself
    wrong = dataclasses.replace(endpoint, password="not-the-password")
    assert ledger.reap(wrong) == 0
    assert open_shells(host) == 1 and record.exists()
    assert ledger.reap(endpoint) == 1
    assert open_shells(host) == 0 and not record.exists()
