"""WSMan-level behaviour: long-poll timeouts, Get, Enumerate, Signal, Delete, faults, routing."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import requests
from echo_backend import EchoBackend
from host_testing import ADMIN, StartSandbox
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import SelectorSet, WSMan

from toolkit.sandbox.host import wsman as wsman_module
from toolkit.sandbox.host.faults import OPERATION_TIMEOUT, SHELL_NOT_FOUND
from toolkit.sandbox.server import RunningSandbox


def test_receive_with_nothing_ready_answers_the_timeout_fault(
    wsman: WSMan, backend: EchoBackend
) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Wait-Stop")
        ps.begin_invoke()
        assert backend.waiting.wait(5)
        ps.poll_invoke()
        assert ps.output == ["waiting"]
        started = time.monotonic()
        with pytest.raises(WSManFaultError) as caught:
            pool.shell.receive("stdout", command_id=ps._command_id, timeout=1)
        assert caught.value.code == OPERATION_TIMEOUT
        assert time.monotonic() - started >= 0.9  # the server held it for the timeout
        ps.stop()


def test_get_and_enumerate_report_pools_and_commands(wsman: WSMan, backend: EchoBackend) -> None:
    with RunspacePool(wsman) as pool:
        assert pool.is_alive()
        ps = PowerShell(pool)
        ps.add_cmdlet("Wait-Stop")
        ps.begin_invoke()
        assert backend.waiting.wait(5)
        (listed,) = RunspacePool.get_runspace_pools(wsman)
        assert listed.id == pool.id
        assert list(listed.pipelines) == [ps.id]
        ps.stop()
        ps.close()
        assert RunspacePool.get_runspace_pools(wsman)[0].pipelines == {}
    assert RunspacePool.get_runspace_pools(wsman) == []


def test_a_deleted_shell_is_not_found(wsman: WSMan) -> None:
    pool = RunspacePool(wsman)
    pool.open()
    shell = pool.shell
    selectors = shell._selector_set
    pool.close()
    shell._selector_set = selectors
    with pytest.raises(WSManFaultError) as caught:
        shell._get_shell()
    assert caught.value.code == SHELL_NOT_FOUND


def test_closing_a_pool_stops_its_pipelines(wsman: WSMan, backend: EchoBackend) -> None:
    pool = RunspacePool(wsman)
    pool.open()
    ps = PowerShell(pool)
    ps.add_cmdlet("Wait-Stop")
    ps.begin_invoke()
    assert backend.waiting.wait(5)
    pool.close()
    assert backend.stopped.is_set()
    assert len(backend.closed_runspaces) == 1


def test_server_config_gives_the_envelope_size(wsman: WSMan) -> None:
    wsman.update_max_payload_size()
    assert wsman.max_envelope_size == 500 * 1024


def test_only_the_powershell_configuration_is_served(wsman: WSMan) -> None:
    with pytest.raises(WSManFaultError) as caught:
        RunspacePool(wsman, configuration_name="Microsoft.Exchange").open()
    assert "Microsoft.Exchange" in str(caught.value)


def test_disconnect_is_refused_plainly(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool, pytest.raises(WSManFaultError) as caught:
        pool.disconnect()
    assert "does not support" in str(caught.value)


def test_other_paths_are_not_found_over_http(sandbox: RunningSandbox) -> None:
    response = requests.get(sandbox.url.replace("/wsman", "/contoso/v2.0/.well-known/x"), timeout=5)
    assert response.status_code == 404
    assert "--https" in response.text


def test_other_paths_go_to_the_identity_handler_over_https(
    start: StartSandbox, tls_dir: Path
) -> None:
    seen: list[tuple[str, str, str, bytes]] = []

    def identity(method: str, path: str, query: str, headers: Mapping[str, str],
                 body: bytes) -> tuple[int, dict[str, str], bytes]:
        seen.append((method, path, query, body))
        return 200, {"Content-Type": "application/json"}, b'{"ok": true}'

    sandbox = start(https=True, tls_dir=tls_dir, identity_handler=identity)
    base = sandbox.url.removesuffix("/wsman")
    response = requests.post(f"{base}/contoso/oauth2/v2.0/token?x=1", data=b"grant=1",
                             verify=str(sandbox.ca_cert), timeout=5)
    assert response.json() == {"ok": True}
    assert seen == [("POST", "/contoso/oauth2/v2.0/token", "x=1", b"grant=1")]


def test_the_client_can_ask_for_a_shorter_idle_timeout(wsman: WSMan) -> None:
    with RunspacePool(wsman, idle_timeout=90) as short, RunspacePool(wsman) as default:
        assert short.shell._get_shell()["IdleTimeOut"] == "PT90.000S"
        assert default.shell._get_shell()["IdleTimeOut"] == "PT7200.000S"


def test_abandoned_pools_are_closed_after_the_idle_timeout(
    wsman: WSMan, backend: EchoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wsman_module, "IDLE_TIMEOUT_SECONDS", 0.0)
    abandoned = RunspacePool(wsman)
    abandoned.open()
    ps = PowerShell(abandoned)
    ps.add_cmdlet("Write-Echo").add_argument(1)
    ps.invoke()
    with RunspacePool(wsman):  # creating a pool reaps idle ones
        assert len(backend.closed_runspaces) == 1
    assert not abandoned.is_alive()


def test_malformed_requests_get_faults_not_crashes(sandbox: RunningSandbox, wsman: WSMan) -> None:
    response = requests.post(sandbox.url, data=b"<not xml", auth=ADMIN, timeout=5,
                             headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
    assert response.status_code == 500
    assert "WSManFault" in response.text and "not XML" in response.text
    with pytest.raises(WSManFaultError) as caught:
        wsman.invoke("http://schemas.xmlsoap.org/ws/2004/09/transfer/Put",
                     "http://schemas.microsoft.com/wbem/wsman/1/windows/shell", None)
    assert "Put" in str(caught.value)
    shell = RunspacePool(wsman).shell
    shell._selector_set = SelectorSet()
    shell._selector_set.add_option("ShellId", "00000000-0000-0000-0000-000000000001")
    with pytest.raises(WSManFaultError) as caught:
        shell.receive("stdout")
    assert caught.value.code == SHELL_NOT_FOUND
    with RunspacePool(wsman) as pool:  # the server is still fine
        assert pool.is_alive()
