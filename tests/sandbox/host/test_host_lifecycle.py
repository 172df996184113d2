"""Less common paths: queued pipelines, streamed input, runspace reset, metadata, many clients."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from echo_backend import EchoBackend
from host_testing import ADMIN, AGENT, StartSandbox
from pypsrp.complex_objects import PSInvocationState
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from toolkit.sandbox.interface import PipelineClock
from toolkit.sandbox.server import RunningSandbox


def test_a_queued_pipeline_can_be_stopped_before_it_starts(
    wsman: WSMan, backend: EchoBackend
) -> None:
    with RunspacePool(wsman) as pool:
        running = PowerShell(pool)
        running.add_cmdlet("Wait-Stop")
        running.begin_invoke()
        assert backend.waiting.wait(5)
        queued = PowerShell(pool)
        queued.add_cmdlet("Write-Echo").add_argument("never")
        queued.begin_invoke()
        queued.stop()
        assert queued.state == PSInvocationState.STOPPED
        running.stop()
        assert backend.stopped.wait(5)
        after = PowerShell(pool)
        after.add_cmdlet("Write-Echo").add_argument("next")
        assert after.invoke() == ["next"]
    assert not any(
        c.text == "Write-Echo" and c.parameters == [(None, "never")]
        for spec in backend.invocations for c in spec.commands
    )


def test_large_input_is_streamed_to_the_backend(wsman: WSMan) -> None:
    items = [f"user{i}@contoso.com" for i in range(3000)]
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Echo")
        assert ps.invoke(input=items) == items


def test_output_the_client_has_not_taken_is_waited_for_on_the_clients_time(
        wsman: WSMan, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipeline whose output the client does not take blocks once 4 MB wait on the host;
    that wait is the client's, not the host's: --cmdlet-ms takes the emulator's own time
    from the service time, and must not take a slow client's time too."""
    blocked = threading.Event()
    waiting_on_client = PipelineClock.waiting_on_client

    @contextlib.contextmanager
    def watched(clock: PipelineClock) -> Iterator[None]:
        blocked.set()
        with waiting_on_client(clock):
            yield

    monkeypatch.setattr(PipelineClock, "waiting_on_client", watched)
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Clocked").add_parameter("Count", 6000)
        ps.begin_invoke()
        assert blocked.wait(60), "the host never waited for the client to take its output"
        time.sleep(1.0)  # the client is away
        output = ps.end_invoke()
    assert len(output) == 6001
    assert output[-1].extended_properties["Client"] >= 1.0


def test_reset_runspace_state_gives_fresh_runspaces(wsman: WSMan, backend: EchoBackend) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Set-Var").add_parameter("Name", "x").add_parameter("Value", 1)
        ps.invoke()
        pool.reset_runspace_state()
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Var").add_parameter("Name", "x")
        assert ps.invoke() == [None]
    assert len(backend.opened_runspaces) == 2


def test_command_metadata_fails_and_leaves_the_pool_usable(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        # The host fails the request; pypsrp then finds no metadata count to pop.
        with pytest.raises(IndexError):
            pool.get_command_metadata("Get-Mailbox")
        after = PowerShell(pool)
        after.add_cmdlet("Write-Echo").add_argument("ok")
        assert after.invoke() == ["ok"]


def test_many_clients_at_once(sandbox: RunningSandbox) -> None:
    failures: list[BaseException] = []

    def client(index: int) -> None:
        user, password = (ADMIN, AGENT)[index % 2]
        try:
            wsman = WSMan("127.0.0.1", port=sandbox.port, ssl=False, auth="ntlm",
                          username=user, password=password)
            with RunspacePool(wsman, max_runspaces=2) as pool:
                for step in range(8):
                    ps = PowerShell(pool)
                    ps.add_cmdlet("Write-Echo").add_argument(f"{index}-{step}")
                    assert ps.invoke(input=[index]) == [index, f"{index}-{step}"]
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_a_client_that_drops_its_tls_connection_is_no_error(
        start: StartSandbox, tls_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A killed psbridge leaves a TLS connection without close_notify (SSLEOFError on the
    server): normal, logged at debug level, never a traceback on the sandbox's console."""
    running = start(https=True, tls_dir=tls_dir)
    context = ssl.create_default_context(cafile=str(running.ca_cert))
    caplog.set_level(logging.DEBUG, logger="toolkit.sandbox")
    for _ in range(3):
        raw = socket.create_connection(("127.0.0.1", running.port))
        tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
        tls.sendall(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npart")
        raw_fd = socket.socket(fileno=tls.detach())  # the bare socket: no TLS goodbye
        raw_fd.shutdown(socket.SHUT_RDWR)
        raw_fd.close()
    while running.idle_for() == 0:  # the server has seen every connection end
        time.sleep(0.05)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
