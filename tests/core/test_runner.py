"""Runner logic: chunking, concurrency, retries, adaptive limits, journal bookkeeping.

The management host is replaced here by an in-memory stand-in that plays the template
contract (one result object per row); the end-to-end tests drive the real CLI, pypsrp
and the sandbox.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from toolkit.core import runner as runner_module
from toolkit.core.concurrency import AdaptiveLimit
from toolkit.core.connections import Connections, Link
from toolkit.core.errors import ConnectionFailed, TransportFault
from toolkit.core.journal import PENDING, SENT, Journal
from toolkit.core.pipeline_results import ErrorInfo, PipelineResult
from toolkit.core.runner import (
    RowResult,
    RowStep,
    Runner,
    RunnerSettings,
    WorkRow,
    parse_results,
)
from toolkit.core.session import Connection, Step
from toolkit.core.target import WrongTenant

THROTTLED = {"Status": "failed", "ErrorId": "TooManyRequests,Update-MgUser",
             "Category": "LimitsExceeded", "Message": "Too many requests; retry after 0 seconds."}


class FakeHost:
    """Applies rows to a dict, like an idempotent template would, with injectable trouble.

    ``received`` counts every row a pipeline delivered to the host (throttled rows, which
    the host refuses, excepted), so a row sent twice shows up even when the second send
    finds it done and reports it unchanged.
    """

    def __init__(self, *, throttle: float = 0.0, fault_every: int = 0, seed: int = 1,
                 behaviour: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None):
        self.state: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.throttled = 0
        self.faults = 0
        self.random = random.Random(seed)
        self.throttle = throttle
        self.fault_every = fault_every  # every Nth pipeline loses its connection
        self.pipelines = 0
        self.behaviour = behaviour
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.connections = 0
        self.events: list[tuple[str, int]] = []  # ("sent"|"ended", first row of the chunk)

    def connect(self) -> FakeConnection:
        with self.lock:
            self.connections += 1
        return FakeConnection(self)


class FakeConnection:
    closed = False
    services: dict[str, float] = {}  # noqa: RUF012 - connected to nothing, never changed

    def __init__(self, host: FakeHost):
        self.host = host

    def begin(self, steps: list[Step]) -> FakeRunning:
        return FakeRunning(self, steps)

    def holds(self, service: str) -> bool:
        return True

    def run(self, steps: list[Step]) -> PipelineResult:
        host = self.host
        with host.lock:
            host.in_flight += 1
            host.peak = max(host.peak, host.in_flight)
            host.pipelines += 1
            fault = bool(host.fault_every) and host.pipelines % host.fault_every == 0
            host.faults += fault
        try:
            if fault:
                raise TransportFault("connection reset")
            output = []
            for row in steps[-1].parameters["Rows"]:
                with host.lock:
                    throttled = host.random.random() < host.throttle
                    host.throttled += throttled
                    if not throttled:
                        host.received[row["Key"]] += 1
                if throttled:
                    output.append({"Row": row["_row"], **THROTTLED})
                    continue
                custom = host.behaviour(row) if host.behaviour else None
                if custom is not None:
                    output.append({"Row": row["_row"], **custom})
                    continue
                with host.lock:
                    done = host.state[row["Key"]] > 0
                    if not done:
                        host.state[row["Key"]] += 1
                output.append({"Row": row["_row"], "Status": "unchanged" if done else "changed"})
            return PipelineResult(output, [], [], [], [], False, 0.001)
        finally:
            with host.lock:
                host.in_flight -= 1

    def close(self) -> None:
        pass


class FakeRunning:
    """A pipeline sent to the fake host: it runs when its result is asked for."""

    def __init__(self, connection: FakeConnection, steps: list[Step]):
        self.connection = connection
        self.steps = steps
        self.first = steps[-1].parameters["Rows"][0]["_row"]
        connection.host.events.append(("sent", self.first))

    def result(self, on_output: Callable[[list[Any]], None] | None = None) -> PipelineResult:
        result = self.connection.run(self.steps)
        if on_output is not None:
            on_output(result.output)
        self.connection.host.events.append(("ended", self.first))
        return result


def make_runner(tmp_path: Path, host: FakeHost, **settings: Any) -> tuple[Runner, Journal, str]:
    journal = Journal(tmp_path / "jobs.db")
    job = journal.start_job(task="test/rows", profile="fake")
    runner = Runner(
        open_connection=host.connect,  # type: ignore[arg-type,return-value]
        make_steps=lambda rows, connection: [Step("connect"), Step("template", {"Rows": rows})],
        journal_path=tmp_path / "jobs.db",
        job_id=job.id,
        settings=RunnerSettings(**{"base_delay": 0.001, "max_delay": 0.01, **settings}),
        secret_columns=["Password"],
    )
    return runner, journal, job.id


def rows(n: int) -> list[WorkRow]:
    return [WorkRow(i + 2, f"k{i}", {"Key": f"k{i}", "Password": "s3cret"}) for i in range(n)]


def test_every_row_gets_exactly_one_outcome(tmp_path: Path) -> None:
    host = FakeHost()
    runner, journal, job = make_runner(tmp_path, host, concurrency=3, chunk_size=7)
    summary = runner.run(rows(100))
    assert summary.counts == Counter(changed=100)
    assert journal.counts(job) == {"changed": 100}
    assert len(host.received) == 100 and set(host.received.values()) == {1}
    assert host.peak <= 3


def test_throttling_and_faults_are_retried_until_every_row_is_right(tmp_path: Path) -> None:
    host = FakeHost(throttle=0.1, fault_every=7, seed=7)
    runner, journal, job = make_runner(tmp_path, host, concurrency=3, chunk_size=10,
                                       attempts=20)
    summary = runner.run(rows(300))
    assert host.throttled > 0 and host.faults > 0, "the host should have made trouble"
    assert summary.counts == Counter(changed=300)
    assert len(host.received) == 300 and set(host.received.values()) == {1}
    assert journal.counts(job).get("failed", 0) == 0


def test_retries_are_bounded(tmp_path: Path) -> None:
    host = FakeHost(throttle=1.0)
    runner, _journal, _job = make_runner(tmp_path, host, concurrency=1, chunk_size=5, attempts=3)
    summary = runner.run(rows(5))
    assert summary.counts == Counter(failed=5)
    assert {f.error_id for f in summary.failures} == {"RetriesExhausted"}


def test_permanent_errors_fail_only_their_row(tmp_path: Path) -> None:
    def behaviour(row: dict[str, Any]) -> dict[str, Any] | None:
        if row["_row"] == 5:
            return {"Status": "failed", "ErrorId": "ManagementObjectNotFoundException,x",
                    "Message": "Couldn't find object"}
        return None

    host = FakeHost(behaviour=behaviour)
    runner, _journal, _job = make_runner(tmp_path, host, concurrency=2, chunk_size=4)
    summary = runner.run(rows(10))
    assert summary.counts == Counter(changed=9, failed=1)
    assert summary.failures[0].row == 5 and "Couldn't find" in (summary.failures[0].message or "")


def test_rows_missing_from_the_output_count_as_failed(tmp_path: Path) -> None:
    host = FakeHost(behaviour=lambda row: {"Status": "changed"} if row["_row"] % 2 else None)

    class Dropping(FakeConnection):
        def run(self, steps: list[Step]) -> PipelineResult:
            result = super().run(steps)
            result.output = [o for o in result.output if o["Row"] % 2]
            return result

    runner, _journal, _job = make_runner(tmp_path, host)
    runner.open_connection = lambda: Dropping(host)  # type: ignore[assignment,return-value]
    summary = runner.run(rows(6))
    assert summary.counts == Counter(changed=3, failed=3)
    assert {f.error_id for f in summary.failures} == {"NoRowResult"}


def test_a_terminating_error_fails_the_chunk_with_its_message(tmp_path: Path) -> None:
    class Failing(FakeConnection):
        def run(self, steps: list[Step]) -> PipelineResult:
            error = ErrorInfo("Cannot bind parameter 'Rows'.", "ParameterBindingFailed,x",
                              "InvalidArgument")
            return PipelineResult([], [error], [], [], [], True, 0.01)

    host = FakeHost()
    runner, _journal, _job = make_runner(tmp_path, host)
    runner.open_connection = lambda: Failing(host)  # type: ignore[assignment,return-value]
    summary = runner.run(rows(3))
    assert summary.counts == Counter(failed=3)
    assert summary.failures[0].message == "Cannot bind parameter 'Rows'."


def test_unreachable_host_fails_at_once(tmp_path: Path) -> None:
    host = FakeHost()

    def refuse() -> FakeConnection:
        raise ConnectionFailed("cannot reach the management host")

    runner, journal, job = make_runner(tmp_path, host)
    runner.open_connection = refuse  # type: ignore[assignment]
    with pytest.raises(ConnectionFailed):
        runner.run(rows(3))
    assert journal.counts(job) == {}


def test_a_host_that_stops_listening_ends_the_run_instead_of_retrying(tmp_path: Path) -> None:
    """Opening a connection already tried a refused host a few times: the run ends (exit 4)
    with the rows not sent still pending, instead of minutes of retries."""
    host = FakeHost(fault_every=1)  # every pipeline loses its connection
    opened: list[int] = []

    def connect() -> FakeConnection:
        opened.append(1)
        if len(opened) > 1:
            gone = TransportFault("cannot reach the management host")
            gone.refused = True
            raise gone
        return host.connect()

    runner, journal, job = make_runner(tmp_path, host, concurrency=1, chunk_size=5)
    runner.open_connection = connect  # type: ignore[assignment]
    with pytest.raises(TransportFault, match="cannot reach"):
        runner.run(rows(10))
    assert len(opened) == 2
    assert journal.counts(job) == {SENT: 5, PENDING: 5}


def test_a_spare_that_fails_to_get_ready_is_closed_and_the_worker_opens_its_own() -> None:
    host = FakeHost()
    opened: list[FakeConnection] = []
    closed: list[FakeConnection] = []

    class Recorded(FakeConnection):
        def close(self) -> None:
            closed.append(self)

    def open_connection() -> FakeConnection:
        opened.append(Recorded(host))
        return opened[-1]

    def wrong_tenant(connection: Connection) -> None:
        raise WrongTenant("the exchange connection reached tenant fabrikam, not contoso")

    pool = Connections(open_connection)  # type: ignore[arg-type]
    pool.warm_up(1, wrong_tenant)
    taken = pool.take()
    assert closed == [opened[0]] and taken is opened[1]


def test_secrets_stay_out_of_the_journal(tmp_path: Path) -> None:
    runner, _journal, _job = make_runner(tmp_path, FakeHost())
    runner.run(rows(3))
    assert b"s3cret" not in (tmp_path / "jobs.db").read_bytes()


def test_throttled_rows_go_back_to_pending_not_unknown(tmp_path: Path) -> None:
    holder: dict[str, Runner] = {}

    def throttle_then_ctrl_c(row: dict[str, Any]) -> dict[str, Any]:
        holder["runner"]._stopping.set()  # Ctrl-C arrives while the chunk runs
        return THROTTLED

    host = FakeHost(behaviour=throttle_then_ctrl_c)
    runner, journal, job = make_runner(tmp_path, host, concurrency=1, chunk_size=5)
    holder["runner"] = runner
    journal.record_rows(job, ((w.row, w.key, {}) for w in rows(5)))
    with Link(Connections(host.connect)) as link:  # type: ignore[arg-type]
        runner._process(rows(5), [RowStep(host.connect, runner.make_steps)],  # type: ignore[arg-type]
                        [link], journal)
    assert journal.counts(job) == {PENDING: 5}


def run_two_chunks(runner: Runner, host: FakeHost, journal: Journal, job: str) -> None:
    """Rows 2-6 as a worker's chunk, with rows 7-11 waiting to be taken next."""
    journal.record_rows(job, ((w.row, w.key, {}) for w in rows(10)))
    waiting = [rows(10)[5:]]
    with Link(Connections(host.connect)) as link:  # type: ignore[arg-type]
        runner._process(rows(10)[:5], [RowStep(host.connect, runner.make_steps)],  # type: ignore[arg-type]
                        [link], journal, lambda: waiting.pop() if waiting else None)


def test_the_next_chunk_is_sent_behind_the_one_running(tmp_path: Path) -> None:
    host = FakeHost()
    runner, journal, job = make_runner(tmp_path, host, concurrency=1, chunk_size=5)
    run_two_chunks(runner, host, journal, job)
    # Sent behind the chunk still running: the host starts it when that one ends.
    assert host.events == [("sent", 2), ("sent", 7), ("ended", 2), ("ended", 7)]
    assert journal.counts(job) == {"changed": 10} and set(host.received.values()) == {1}


def test_the_next_chunk_is_sent_when_the_running_one_has_a_quarter_second_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = FakeHost()
    runner, journal, _job = make_runner(tmp_path, host, concurrency=1, chunk_size=10)
    waiting = [rows(20)[10:]]
    ahead = runner_module._Ahead(lambda: waiting.pop() if waiting else None)
    connection = host.connect()
    arrived = runner._near_the_end(rows(10), RowStep(host.connect, runner.make_steps),  # type: ignore[arg-type]
                                   connection, journal, ahead)  # type: ignore[arg-type]
    sent_after = None
    for index, work in enumerate(rows(10)):  # one row reports every 0.1 s
        monkeypatch.setattr(runner_module.time, "monotonic", lambda t=index * 0.1: t)
        arrived([{"Row": work.row, "Status": "changed"}])
        if ahead.chunk is not None and sent_after is None:
            sent_after = index + 1
    # 2 rows left at 0.1 s each: within LEAD_SECONDS (0.25 s) of the end.
    assert runner_module.LEAD_SECONDS == 0.25 and sent_after == 8
    assert host.events == [("sent", 12)]


def test_no_chunk_is_sent_ahead_after_ctrl_c(tmp_path: Path) -> None:
    holder: dict[str, Runner] = {}

    def ctrl_c_at_row_3(row: dict[str, Any]) -> None:
        if row["_row"] == 3:
            holder["runner"]._stopping.set()

    host = FakeHost(behaviour=ctrl_c_at_row_3)
    runner, journal, job = make_runner(tmp_path, host, concurrency=1, chunk_size=5)
    holder["runner"] = runner
    run_two_chunks(runner, host, journal, job)
    # The chunk running at Ctrl-C ended; the one waiting was not sent: still pending.
    assert host.events == [("sent", 2), ("ended", 2)]
    assert sorted(host.received) == [f"k{i}" for i in range(5)]
    assert journal.counts(job) == {"changed": 5, PENDING: 5}


def two_step_runner(tmp_path: Path, first: FakeHost, then: FakeHost
                    ) -> tuple[Runner, Journal, str, list[RowResult]]:
    """A runner whose even rows go on from ``first``'s template to ``then``'s, each
    template on connections of its own host (as Graph and Exchange steps are)."""
    runner, journal, job = make_runner(tmp_path, first, concurrency=2, chunk_size=4)
    came: list[RowResult] = []
    runner.on_results = came.extend
    runner.then = (RowStep(then.connect,  # type: ignore[arg-type]
                           lambda rows, connection: [Step("template2", {"Rows": rows})]),)
    return runner, journal, job, came


def goes_on_when_even(row: dict[str, Any]) -> dict[str, Any]:
    return {"Status": "changed", "Enabled": True, "Continue": row["_row"] % 2 == 0}


def test_rows_go_on_to_the_next_step_on_its_own_connections(tmp_path: Path) -> None:
    first = FakeHost(behaviour=goes_on_when_even)
    then = FakeHost(throttle=0.3, seed=3)
    runner, journal, job, came = two_step_runner(tmp_path, first, then)
    summary = runner.run(rows(10))
    assert summary.counts == Counter(changed=10) and journal.counts(job) == {"changed": 10}
    assert then.throttled > 0, "the second step should have been throttled"
    # The first step ran once per row although the second was retried; only the rows
    # that went on reached the second step's host, each once.
    assert set(first.received.values()) == {1} and len(first.received) == 10
    assert sorted(then.received) == [f"k{i}" for i in range(10) if i % 2 == 0]
    assert set(then.received.values()) == {1}
    # One outcome per row, with the first step's fields; Continue is not one of them.
    assert sorted(r.row for r in came) == list(range(2, 12))
    assert all(r.fields == {"Enabled": True} for r in came)


def test_a_row_stopped_between_steps_stays_sent_not_pending(tmp_path: Path) -> None:
    holder: dict[str, Runner] = {}

    def throttle_then_ctrl_c(row: dict[str, Any]) -> dict[str, Any]:
        holder["runner"]._stopping.set()
        return THROTTLED

    runner, journal, job, _came = two_step_runner(
        tmp_path, FakeHost(behaviour=goes_on_when_even), FakeHost(behaviour=throttle_then_ctrl_c))
    holder["runner"] = runner
    journal.record_rows(job, ((w.row, w.key, {}) for w in rows(4)))
    with Link(Connections(runner.open_connection)) as first, \
            Link(Connections(runner.then[0].open_connection)) as then:
        runner._process(rows(4), [RowStep(runner.open_connection, runner.make_steps),
                                  runner.then[0]], [first, then], journal)
    # Rows 3 and 5 ended at the first step; rows 2 and 4 were changed by it, so the
    # throttled second step leaves them unknown (sent), not pending as if nothing ran.
    assert journal.counts(job) == {"changed": 2, SENT: 2}


def test_adaptive_limit_halves_and_regrows() -> None:
    limit = AdaptiveLimit(8)
    limit.throttled()
    assert limit.limit == 4
    limit.throttled()
    limit.throttled()
    limit.throttled()
    assert limit.limit == 1
    for _ in range(AdaptiveLimit.CALM_CHUNKS_TO_GROW * 2):
        limit.calm()
    assert limit.limit == 3


def test_parse_results_reads_the_contract() -> None:
    parsed = parse_results([{"Row": "4", "Status": "Changed", "Message": "ok", "Mailbox": "m"},
                            "noise", {"Row": 5, "Status": "weird"}])
    assert parsed[4].status == "changed" and parsed[4].fields == {"Mailbox": "m"}
    assert parsed[5].status == "failed"
