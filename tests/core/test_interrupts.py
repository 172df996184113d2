"""Ctrl-C and SIGTERM reach the engine between two waits, never inside one.

A KeyboardInterrupt raised inside threading's lock code (a Condition re-acquiring its
lock) left a lock released twice: "RuntimeError: release unlocked lock" instead of exit
143, seen once in a loaded run of test_sigterm_stops_like_ctrl_c_and_resume_finishes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from toolkit.core.workers import Workers

pytestmark = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                reason="signal handlers run in the main thread only")


@pytest.fixture(autouse=True)
def pythons_own_ctrl_c_handler() -> Iterator[None]:
    """Ctrl-C handled as Python starts a program: the handler SafePoints hands a signal to.
    A test runner's worker process may carry another one (two loaded runs each failed this
    test once, as if Ctrl-C had no handler to raise), so the test sets its own start."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def held_chunks(released: threading.Event
                ) -> Callable[[], contextlib.AbstractContextManager[Callable[[int], None]]]:
    """Chunk handlers that hold their chunk until a wait of the engine has run: the queue
    fills, so the engine must wait, however slowly a loaded machine runs its threads (with
    chunks that only slept, a starved main thread found the queue empty at every put and
    never waited)."""
    @contextlib.contextmanager
    def handle() -> Iterator[Callable[[int], None]]:
        yield lambda chunk, take: released.wait(60)  # 60 s only ends a broken test

    return handle


def test_ctrl_c_during_a_wait_stops_the_run_once_the_wait_has_ended() -> None:
    ended: list[float] = []
    released = threading.Event()

    def wait(seconds: float) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # arrives while this wait runs
        time.sleep(0.05)  # without safe points, KeyboardInterrupt is raised here
        ended.append(seconds)
        released.set()

    workers = Workers(1, held_chunks(released), name="test-interrupts", grace_seconds=5)
    assert workers.run(range(50), wait) is True  # interrupted, in order
    assert ended, "the wait was cut off where the signal landed"
    assert workers.stop.is_set()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_sigterm_goes_to_its_own_handler_at_the_safe_point() -> None:
    seen: list[int] = []
    ended: list[float] = []
    released = threading.Event()

    def on_sigterm(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        def wait(seconds: float) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            ended.append(seconds)
            released.set()

        workers = Workers(1, held_chunks(released), name="test-interrupts", grace_seconds=5)
        assert workers.run(range(50), wait) is True
        assert ended, "the handler ran inside the wait"
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is on_sigterm
    finally:
        signal.signal(signal.SIGTERM, previous)
