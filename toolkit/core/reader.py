"""The chunked reader: read-only pipelines over chunks of work, several at once.

A task supplies what is particular to its read (:class:`ChunkRead`): the pipeline of one
chunk, how to read its output into a part that is *done* and a part to *read again* (the
throttled mailboxes, say), and what a chunk whose retries ran out comes to. The reader
does the rest the way the runner does, with the same pieces: connections opened ahead and
reopened after a transport fault (:mod:`toolkit.core.connections`), the bulk retry policy
(:func:`~toolkit.core.retry.retrying`; a try that settled part of its chunk starts the
backoff over), the pipelines in flight halving on throttling (:class:`AdaptiveLimit`),
worker threads with one stop event (:mod:`toolkit.core.workers`), and a hook called on
the caller's thread with each chunk as it is finished.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from toolkit.core.concurrency import AdaptiveLimit
from toolkit.core.connections import Connections, Link
from toolkit.core.errors import TransportFault
from toolkit.core.pipeline_results import PipelineResult
from toolkit.core.retry import TransientFailure, retrying
from toolkit.core.session import Connection, Step
from toolkit.core.workers import TakeNext, Workers

C = TypeVar("C")  # a chunk: what one pipeline reads
D = TypeVar("D")  # what one try of a chunk settled
T = TypeVar("T")


@dataclass(frozen=True)
class Settled(Generic[C, D]):
    """What one try of a chunk read: ``done`` is kept; ``again`` (None: nothing) is what
    the next try reads, and why."""

    done: D
    again: tuple[C, TransientFailure] | None = None


@dataclass(frozen=True)
class ChunkRead(Generic[C, D]):
    """What a task supplies. ``settle`` may raise TransientFailure (the whole try is read
    again) or any other error (the read fails); ``gave_up`` gets what was still to read
    when the retries ran out, and may raise instead."""

    steps: Callable[[C, Connection], list[Step]]
    settle: Callable[[C, PipelineResult], Settled[C, D]]
    gave_up: Callable[[C, TransientFailure], D]


def read_chunks(chunks: Sequence[C], read: ChunkRead[C, D], connections: Connections,
                on_chunk: Callable[[C, list[D]], None], *, concurrency: int,
                name: str = "psbridge-read") -> None:
    """Read every chunk over up to ``concurrency`` connections; ``on_chunk(chunk, parts)``
    gets each finished chunk on this thread. Spares left are closed at the end.

    Raises KeyboardInterrupt after Ctrl-C (once the reads in flight ended or their grace
    ran out; chunks finished after it are not handed over), and the first error a worker
    met.
    """
    count = max(1, min(concurrency, len(chunks)))
    connections.keep(count)
    stop = threading.Event()
    reader = _Reader(read, connections, AdaptiveLimit(count), stop)
    workers = Workers(count, reader.worker, name=name, stop=stop)

    def hand_over(seconds: float) -> None:
        """Hand over the next finished chunk, waiting for it at most ``seconds``."""
        with contextlib.suppress(queue.Empty):
            on_chunk(*reader.finished.get(timeout=seconds))

    try:
        if workers.run(chunks, hand_over):
            raise KeyboardInterrupt
        while not reader.finished.empty():
            hand_over(0)
    finally:
        connections.close_spares()


class _Reader(Generic[C, D]):
    def __init__(self, read: ChunkRead[C, D], connections: Connections, limit: AdaptiveLimit,
                 stop: threading.Event):
        self.read = read
        self.connections = connections
        self.limit = limit
        self.stop = stop
        self.finished: queue.Queue[tuple[C, list[D]]] = queue.Queue()

    @contextlib.contextmanager
    def worker(self) -> Iterator[Callable[[C, TakeNext[C]], None]]:
        with Link(self.connections) as link:
            yield lambda chunk, _: self._chunk(chunk, link)

    def _chunk(self, chunk: C, link: Link) -> None:
        parts: list[D] = []
        pending = chunk
        try:
            for attempt in retrying(sleep=self.stop.wait):
                with attempt:
                    if self.stop.is_set():  # a chunk left half-read is not handed over
                        return
                    settled = self._try(pending, link)
                    parts.append(settled.done)
                    if settled.again is not None:
                        pending, failure = settled.again
                        self._adapt(failure, link)
                        raise failure
                    self.limit.calm()
        except TransientFailure as last:
            parts.append(self.read.gave_up(pending, last))
        self.finished.put((chunk, parts))

    def _try(self, pending: C, link: Link) -> Settled[C, D]:
        try:
            with self.limit.slot():
                result = link.run(lambda connection: self.read.steps(pending, connection))
            return self.read.settle(pending, result)
        except TransientFailure as failure:
            self._adapt(failure, link)
            raise

    def _adapt(self, failure: TransientFailure, link: Link) -> None:
        """Adapt to a failed try: fewer pipelines after throttling, the connection given
        back when the account's connections are all in use."""
        if failure.throttled:
            self.limit.throttled(failure.retry_after)
        if failure.connection_limit:
            link.drop()


def read_retrying(read: Callable[[], T]) -> T:
    """One read with the bulk retry policy: tried again while it raises TransientFailure
    or a transport fault, the last failure raised when the retries run out."""
    for attempt in retrying():
        with attempt:
            try:
                return read()
            except TransportFault as fault:
                raise TransientFailure(fault.message) from fault
    raise AssertionError("unreachable: retrying() returns or raises")
