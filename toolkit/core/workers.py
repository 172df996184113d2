"""Worker threads taking chunks from a bounded queue, with one stop event for them all.

The calling thread feeds the queue (so that memory does not grow with the input). While
it waits it can do the caller's ``wait`` instead of sleeping: e.g. wait for a finished
chunk and hand it to the caller's hook on this thread, as soon as it is there. A worker
may take the next chunk while it still handles one (:data:`TakeNext`). The first
exception in a worker (a bug, a fatal connection error, a read that cannot go on) stops
every worker and is raised by :meth:`Workers.run`. Ctrl-C (or SIGTERM, delivered as
KeyboardInterrupt between two waits: :mod:`toolkit.core.interrupts`) sets the stop event:
no new chunk starts, backoff waits that sleep on the event are cut short, and the chunks
in flight get ``grace_seconds`` to end.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from toolkit.core.interrupts import SafePoints

T = TypeVar("T")
POLL = 0.2  # seconds between looks at the stop event while waiting
# What a worker calls to take the next chunk before its current one ends: the chunk, if
# one is waiting now (the worker then handles it too), else None.
TakeNext = Callable[[], T | None]
# A worker's context: set up once per thread (its connection, its journal), it gives the
# function that handles one chunk.
WorkerContext = Callable[[], contextlib.AbstractContextManager[Callable[[T, TakeNext[T]],
                                                                         None]]]


class Workers(Generic[T]):
    """``count`` threads named ``name-<i>`` handling chunks; see the module docstring."""

    def __init__(self, count: int, context: WorkerContext[T], *, name: str,
                 stop: threading.Event | None = None, grace_seconds: float = 15.0):
        self.count = count
        self.context = context
        self.name = name
        self.stop = stop or threading.Event()
        self.grace_seconds = grace_seconds
        self.fatal: BaseException | None = None
        self._lock = threading.Lock()

    def run(self, chunks: Iterable[T], wait: Callable[[float], None] | None = None) -> bool:
        """Handle every chunk; True when Ctrl-C interrupted the run. ``wait(seconds)``
        spends the calling thread's waits (at most ``seconds`` each)."""
        waiting: queue.Queue[T | None] = queue.Queue(maxsize=self.count)
        threads = [threading.Thread(target=self._work, args=(waiting,),
                                    name=f"{self.name}-{i}", daemon=True)
                   for i in range(self.count)]
        for thread in threads:
            thread.start()
        interrupted = False
        with SafePoints() as safe:
            try:
                for chunk in chunks:
                    safe.check()
                    if not self._put(waiting, chunk, wait, safe):
                        break
                for _ in threads:
                    self._put(waiting, None, wait, safe)
                for thread in threads:
                    while thread.is_alive():
                        if wait is None:
                            thread.join(POLL)
                        else:
                            wait(POLL)
                        safe.check()
            except KeyboardInterrupt:
                interrupted = True
                self.stop.set()
                with contextlib.suppress(queue.Empty):
                    while True:
                        waiting.get_nowait()
                deadline = time.monotonic() + self.grace_seconds
                for thread in threads:
                    while thread.is_alive() and (left := deadline - time.monotonic()) > 0:
                        thread.join(min(POLL, left))
                        safe.check()  # a second Ctrl-C ends the grace
        if self.fatal is not None:
            raise self.fatal
        return interrupted

    def _put(self, waiting: queue.Queue[T | None], item: T | None,
             wait: Callable[[float], None] | None, safe: SafePoints) -> bool:
        """Queue ``item``; False when the run stopped first."""
        while True:
            try:
                if wait is None:
                    waiting.put(item, timeout=POLL)
                else:
                    waiting.put_nowait(item)
                return True
            except queue.Full:
                if self.fatal is not None or self.stop.is_set():
                    return False
                if wait is not None:
                    wait(POLL)
                safe.check()

    def _work(self, waiting: queue.Queue[T | None]) -> None:
        ended = False

        def take_next() -> T | None:
            nonlocal ended
            if ended or self.stop.is_set():
                return None
            try:
                chunk = waiting.get_nowait()
            except queue.Empty:
                return None
            ended = chunk is None
            return chunk

        try:
            with self.context() as handle:
                while not self.stop.is_set() and not ended:
                    try:
                        chunk = waiting.get(timeout=POLL)
                    except queue.Empty:
                        continue
                    if chunk is None:
                        return
                    handle(chunk, take_next)
        except BaseException as exc:  # the first one ends the run
            with self._lock:
                if self.fatal is None:
                    self.fatal = exc
            self.stop.set()
