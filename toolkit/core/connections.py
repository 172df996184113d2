"""The connections of one bulk run: opened ahead, shared out to workers, reopened after a
transport fault.

A run opens its first connection before any worker starts, outside every retry, so that
a host that cannot be reached at all fails the command at once (exit 4). Connections
opened ahead (that first one, the one a listing was read over, or those :meth:`warm_up`
opens while the listing is read) are *spares*: a worker takes a spare before it opens
one of its own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from toolkit.core.errors import TransportFault
from toolkit.core.pipeline_results import PipelineResult
from toolkit.core.retry import TransientFailure
from toolkit.core.session import Connection, Step


class Connections:
    """Where the workers of one run get their connections."""

    def __init__(self, open_connection: Callable[[], Connection]):
        self._open = open_connection
        self._lock = threading.Lock()
        self._spares: list[Connection] = []
        self._warming: list[Future[Connection]] = []

    def open_first(self) -> None:
        """Open a spare now, outside any retry: an unreachable host fails at once."""
        self.add(self._open())

    def add(self, connection: Connection) -> None:
        with self._lock:
            self._spares.append(connection)

    def warm_up(self, count: int, prepare: Callable[[Connection], object] | None = None
                ) -> None:
        """Start opening ``count`` spares in the background, each then made ready by
        ``prepare`` (e.g. connected to its service): with service time, the workers then
        start together instead of after a sign-in each. A spare that failed to open or to
        get ready is closed; the worker that would have taken it opens its own."""
        if count < 1:
            return
        pool = ThreadPoolExecutor(count, thread_name_prefix="psbridge-open")
        with self._lock:
            self._warming += [pool.submit(self._ready, prepare) for _ in range(count)]
        pool.shutdown(wait=False)

    def _ready(self, prepare: Callable[[Connection], object] | None) -> Connection:
        connection = self._open()
        if prepare is not None:
            try:
                prepare(connection)
            except BaseException:
                connection.close()
                raise
        return connection

    def take(self) -> Connection:
        """A spare, else one being opened ahead, else a new one. Failing to open a new one
        is transient (the caller's retry policy tries again), unless nothing listens there
        any more: opening tried that a few times already, so it is the run's end (exit 4),
        not minutes of retries."""
        with self._lock:
            if self._spares:
                return self._spares.pop()
            warming = self._warming.pop(0) if self._warming else None
        if warming is not None:
            with contextlib.suppress(Exception):  # it failed: open one here, with retries
                return warming.result()
        try:
            return self._open()
        except TransportFault as fault:
            if fault.refused:
                raise
            raise TransientFailure(fault.message) from fault

    def keep(self, count: int) -> None:
        """Close the spares beyond the first ``count`` (a run with fewer workers)."""
        with self._lock:
            ready, self._spares = self._spares[count:], self._spares[:count]
            keep_warming = max(0, count - len(self._spares))
            warming = self._warming[keep_warming:]
            self._warming = self._warming[:keep_warming]
        _close(ready, warming)

    def close_spares(self) -> None:
        """Close every spare left (opened ahead, never used)."""
        self.keep(0)


def _close(ready: list[Connection], warming: list[Future[Connection]]) -> None:
    for connection in ready:
        connection.close()
    for future in warming:
        with contextlib.suppress(Exception):
            future.result().close()


class Link:
    """One worker's connection: taken when first needed, kept from chunk to chunk, dropped
    (closed) after a transport fault so that the next try opens another."""

    def __init__(self, connections: Connections):
        self._connections = connections
        self.connection: Connection | None = None

    def get(self) -> Connection:
        if self.connection is None:
            self.connection = self._connections.take()
        return self.connection

    def run(self, steps: Callable[[Connection], list[Step]]) -> PipelineResult:
        """Run the pipeline ``steps`` makes for the connection (connecting it first, when
        it needs to); a transport fault drops the connection and is transient."""
        connection = self.get()
        try:
            return connection.run(steps(connection))
        except TransportFault as fault:
            self.drop()
            raise TransientFailure(fault.message) from fault

    def drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def release(self) -> None:
        """Hand the connection back to the run's spares, for a worker to use."""
        if self.connection is not None:
            self._connections.add(self.connection)
            self.connection = None

    def __enter__(self) -> Link:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.drop()
