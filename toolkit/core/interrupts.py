"""Ctrl-C and SIGTERM taken at safe points while the engine waits on its threads.

Python raises KeyboardInterrupt wherever the main thread is when a signal arrives. Inside
``threading``'s own lock code (a ``Condition.wait`` re-acquiring its lock, as
``queue.Queue`` and ``Thread.join`` do) that leaves a lock released twice, and the command
ends with "RuntimeError: release unlocked lock" instead of an orderly stop (seen when a
job got SIGTERM on a loaded machine). While the engine waits, a signal is only recorded;
:meth:`SafePoints.check`, called between two waits, hands it to the handler it was meant
for, which raises there.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
Handler = Callable[[int, FrameType | None], Any]


class SafePoints:
    """A ``with`` block in which SIGINT and SIGTERM wait for :meth:`check`. Anywhere but
    the main thread (where Python runs signal handlers) it changes nothing."""

    def __init__(self) -> None:
        self._handlers: dict[int, Handler] = {}
        self._pending: list[int] = []

    def __enter__(self) -> SafePoints:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                handler = signal.getsignal(signum)
                if callable(handler):
                    self._handlers[signum] = handler
                    signal.signal(signum, self._record)
        return self

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self._pending.append(signum)

    def check(self) -> None:
        """Hand a signal that came during the last wait to its own handler (Ctrl-C's and
        psbridge's SIGTERM handler raise KeyboardInterrupt)."""
        while self._pending:
            signum = self._pending.pop(0)
            self._handlers[signum](signum, None)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        handlers, self._handlers = self._handlers, {}
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        pending, self._pending = self._pending, []
        if error is None:  # a signal of the last wait still stops the command
            for signum in pending:
                handlers[signum](signum, None)
