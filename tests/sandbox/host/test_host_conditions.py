"""Simulated network conditions: latency on every response, seeded request failures."""

from __future__ import annotations

import time

import pytest
import requests
from host_testing import StartSandbox, basic_wsman
from pypsrp.exceptions import WinRMTransportError
from pypsrp.powershell import PowerShell, RunspacePool

from toolkit.sandbox.host.conditions import InjectedFault, NetworkConditions


def outcomes(start: StartSandbox, count: int, **options: object) -> list[str]:
    """What each of ``count`` one-request calls saw: ok, http-500 or drop."""
    wsman = basic_wsman(start(**options))
    seen = []
    for _ in range(count):
        try:
            wsman.get_server_config()
            seen.append("ok")
        except WinRMTransportError as error:
            assert error.code == 500
            seen.append("http-500")
        except requests.exceptions.ConnectionError:
            seen.append("drop")
    return seen


def test_latency_delays_every_response(start: StartSandbox) -> None:
    wsman = basic_wsman(start(latency_ms=60))
    started = time.monotonic()
    for _ in range(4):
        wsman.get_server_config()
    assert time.monotonic() - started >= 4 * 0.06


def test_fault_rate_with_a_seed_is_repeatable(start: StartSandbox) -> None:
    first = outcomes(start, 40, fault_rate=0.3, random_seed=7)
    again = outcomes(start, 40, fault_rate=0.3, random_seed=7)
    other = outcomes(start, 40, fault_rate=0.3, random_seed=8)
    assert first == again
    assert first != other
    assert {"ok", "http-500", "drop"} <= set(first)
    assert 4 <= first.count("http-500") + first.count("drop") <= 24


def test_no_faults_without_a_rate_and_all_with_rate_one(start: StartSandbox) -> None:
    assert set(outcomes(start, 10)) == {"ok"}
    assert "ok" not in outcomes(start, 10, fault_rate=1.0, random_seed=1)


def test_a_client_session_fails_at_the_same_step_with_the_same_seed(start: StartSandbox) -> None:
    def failing_step(seed: int) -> int:
        wsman = basic_wsman(start(fault_rate=0.1, random_seed=seed))
        step = 0
        try:
            with RunspacePool(wsman) as pool:
                for step in range(1, 50):
                    ps = PowerShell(pool)
                    ps.add_cmdlet("Write-Echo").add_argument(step)
                    assert ps.invoke() == [step]
        except (WinRMTransportError, requests.exceptions.ConnectionError):
            return step
        pytest.fail("no request failed")

    assert failing_step(3) == failing_step(3)


def test_conditions_validate_their_settings() -> None:
    with pytest.raises(ValueError):
        NetworkConditions(fault_rate=1.5)
    with pytest.raises(ValueError):
        NetworkConditions(latency_ms=-1)
    draws = [NetworkConditions(fault_rate=0.5, random_seed=1).draw_fault() for _ in range(3)]
    assert len(set(draws)) == 1 and draws[0] in (None, *InjectedFault)
