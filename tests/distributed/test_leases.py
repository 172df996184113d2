"""Connection leases and throttling shared through Redis, across processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from services import redis_broker

from toolkit.distributed.leases import SharedLimits

HOLDER = """
import sys, time
from toolkit.distributed.leases import SharedLimits
limits = SharedLimits(sys.argv[1], lease_seconds=1.5)
limits.acquire("host|app|contoso|exchange", 2)
limits.acquire("host|app|contoso|exchange", 2)
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def broker() -> Iterator[str]:
    with redis_broker() as url:
        yield url


def test_a_dead_workers_leases_lapse_and_a_live_ones_do_not(broker: str) -> None:
    scope = "host|app|contoso|exchange"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, broker], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    limits = SharedLimits(broker, lease_seconds=1.5)
    time.sleep(3)  # twice the lease: the holder's renewals keep both leases
    assert limits.holders(scope) == 2
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    began = time.monotonic()
    mine = limits.acquire(scope, 2)  # waits until one of the dead worker's leases lapses
    assert time.monotonic() - began > 0.1
    assert limits.holders(scope) <= 2
    limits.release(mine)


def test_the_cap_is_shared_and_a_release_frees_a_slot(broker: str) -> None:
    first, second = SharedLimits(broker), SharedLimits(broker)
    scope = "host|app|fabrikam|exchange"
    held = [first.acquire(scope, 3), second.acquire(scope, 3), second.acquire(scope, 3)]
    assert first.holders(scope) == 3
    first.release(held[0])
    assert second.holders(scope) == 2
    other = first.acquire("host|app|contoso|exchange", 3)  # another tenant: its own cap
    assert first.holders("host|app|contoso|exchange") == 1
    for lease, limits in ((held[1], second), (held[2], second), (other, first)):
        limits.release(lease)


def test_throttling_seen_by_one_worker_holds_the_others(broker: str) -> None:
    first, second = SharedLimits(broker), SharedLimits(broker)
    scope = "host|app|contoso|exchange"
    assert second.throttled_for(scope) == 0
    first.throttle(scope, 1.0)
    assert 0 < second.throttled_for(scope) <= 1.0
    first.throttle(scope, 0.2)  # a shorter Retry-After never shortens the hold
    assert second.throttled_for(scope) > 0.2
    while second.throttled_for(scope) > 0:
        time.sleep(0.05)
