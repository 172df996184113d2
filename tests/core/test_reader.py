"""The chunked reader: done and read-again parts, transport faults, retries running out,
connections opened ahead, and finished chunks handed over on the calling thread."""

from __future__ import annotations

import functools
import threading
from typing import Any

import pytest

from toolkit.core.connections import Connections
from toolkit.core.errors import PartialFailure, TransportFault
from toolkit.core.pipeline_results import PipelineResult
from toolkit.core.reader import ChunkRead, Settled, read_chunks, read_retrying
from toolkit.core.retry import TransientFailure, retrying
from toolkit.core.session import Connection, Step


class Echo:
    """Returns the chunk's items; ``refuse`` of them are throttled once each, every
    ``fault_every``-th pipeline loses its connection."""

    def __init__(self, *, refuse: set[int] = frozenset(), fault_every: int = 0):  # type: ignore[assignment]
        self.refused = set(refuse)
        self.fault_every = fault_every
        self.pipelines = 0
        self.opened = 0
        self.closed = 0
        self.lock = threading.Lock()

    def open(self) -> Any:
        with self.lock:
            self.opened += 1
        return _EchoConnection(self)


class _EchoConnection:
    def __init__(self, host: Echo):
        self.host = host

    def run(self, steps: list[Step]) -> PipelineResult:
        with self.host.lock:
            self.host.pipelines += 1
            if self.host.fault_every and self.host.pipelines % self.host.fault_every == 0:
                raise TransportFault("connection reset")
            items = steps[0].parameters["Items"]
            throttled = [i for i in items if i in self.host.refused]
            self.host.refused -= set(throttled)
        return PipelineResult([{"item": i, "throttled": i in throttled} for i in items],
                              [], [], [], [], False, 0.001)

    def close(self) -> None:
        with self.host.lock:
            self.host.closed += 1


def _steps(items: list[int], connection: Connection) -> list[Step]:
    return [Step("echo", {"Items": items})]


def _settle(items: list[int], result: PipelineResult) -> Settled[list[int], list[int]]:
    done = [r["item"] for r in result.output if not r["throttled"]]
    again = [r["item"] for r in result.output if r["throttled"]]
    if not again:
        return Settled(done)
    return Settled(done, (again, TransientFailure("throttled", retry_after=0.0,
                                                  throttled=True, progressed=bool(done))))


def _gave_up(items: list[int], last: TransientFailure) -> list[int]:
    raise PartialFailure(f"gave up: {last}")


READ = ChunkRead(_steps, _settle, _gave_up)


def _read(host: Echo, chunks: list[list[int]], concurrency: int = 3
          ) -> dict[tuple[int, ...], list[list[int]]]:
    caller = threading.current_thread()
    finished: dict[tuple[int, ...], list[list[int]]] = {}

    def on_chunk(chunk: list[int], parts: list[list[int]]) -> None:
        assert threading.current_thread() is caller
        finished[tuple(chunk)] = parts

    connections = Connections(host.open)
    connections.open_first()
    read_chunks(chunks, READ, connections, on_chunk, concurrency=concurrency)
    return finished


def test_only_the_throttled_part_is_read_again() -> None:
    host = Echo(refuse={2, 5})
    finished = _read(host, [[1, 2, 3], [4, 5, 6], [7]])
    assert finished == {(1, 2, 3): [[1, 3], [2]], (4, 5, 6): [[4, 6], [5]], (7,): [[7]]}
    assert host.opened == host.closed <= 3


def test_a_dropped_connection_is_reopened_and_the_chunk_read_again() -> None:
    host = Echo(fault_every=2)
    finished = _read(host, [[1], [2], [3], [4]], concurrency=1)
    assert sorted(p for parts in finished.values() for part in parts for p in part) == [1, 2, 3, 4]
    assert host.opened == host.closed == 4  # the first, and one after each of 3 faults


def test_retries_that_run_out_end_the_read_with_the_tasks_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    host = Echo(fault_every=1)
    monkeypatch.setattr("toolkit.core.reader.retrying",
                        functools.partial(retrying, attempts=2, base_delay=0.0))
    with pytest.raises(PartialFailure, match="gave up: connection reset"):
        _read(host, [[1]])


def test_read_retrying_tries_a_transport_fault_again() -> None:
    tries: list[int] = []

    def read() -> str:
        tries.append(1)
        if len(tries) < 2:
            raise TransportFault("connection reset")
        return "read"

    assert read_retrying(read) == "read"
    assert len(tries) == 2
