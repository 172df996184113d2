"""The bulk runner: rows in chunks, several pipelines in flight, retries, a journal entry per row.

The contract with a row-driven template (documented in the README): the template receives
``$Rows``, an array of hashtables holding each row's columns plus ``_row`` (its row number),
handles each row in its own try/catch and emits one object per row::

    [pscustomobject]@{ Row = $r._row; Status = 'changed'|'unchanged'|'failed'|'skipped'
                       |'waiting'; Message = ...; ErrorId = ...; Category = ... }

plus any task-specific fields. A row missing from the output counts as failed.

A job may send its rows through more than one template (:class:`RowStep`), each on
connections of its own, so that one runspace only ever holds one service: the Exchange
module and the Graph SDK conflict when loaded in one process. A row goes on to the next
step when its result says ``Continue = $true``; it is recorded once, when its last step
ends, with the worst status of its steps and the fields of all of them. Until then it
stays *sent* in the journal, also while a later step waits to be retried: an earlier
step changed the tenant, so the row is not pending any more.

Rows are streamed: the reader feeds a bounded queue, so memory does not grow with the
file. Each worker thread owns one :class:`~toolkit.core.session.Connection` and one journal
connection; a chunk's rows are marked *sent* before the pipeline starts and get their
outcomes when it ends.

Once the chunk a worker runs has about LEAD_SECONDS of work left (judged by how fast its
rows report), the worker sends the next waiting chunk's pipeline behind it: the host
queues it and starts it the moment the runspace is free, so the runspace does not sit idle
for the round trips between two chunks. From then on both chunks are in flight: Ctrl-C
lets both end (it sends nothing more). A job of several steps does not send ahead: the
next chunk's first step would run on the host while this chunk's later steps still run.

Throttled rows and transport faults are retried with exponential backoff and jitter
(never sooner than a Retry-After hint), within bounded attempts and time, and the number
of pipelines in flight halves when the service throttles and grows back one at a time
while it is calm.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.core.chunks import chunked
from toolkit.core.concurrency import AdaptiveLimit
from toolkit.core.connections import Connections, Link
from toolkit.core.errors import Interrupted, PsbridgeError, TransportFault
from toolkit.core.journal import PENDING, SENT, WAITING, Journal, RowOutcome
from toolkit.core.pipeline_results import PipelineResult, exchange_message_parts, short_error_id
from toolkit.core.retry import (
    ATTEMPTS,
    GAVE_UP,
    MAX_SECONDS,
    TransientFailure,
    classify,
    retrying,
)
from toolkit.core.session import Connection, Running, Step
from toolkit.core.workers import TakeNext, Workers

# ``waiting``: done for now, finished by a later resume (e.g. a mailbox still provisioning).
STATUSES = ("changed", "unchanged", "failed", "skipped", WAITING)
# How much work the running chunk has left when the next one is sent behind it: more than
# a round trip to the host (and the client's work on the answer), so the runspace never
# waits, and little enough that Ctrl-C rarely finds two chunks in flight.
LEAD_SECONDS = 0.25
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkRow:
    """One row to send: its number, a short key for people, and the columns it carries.

    ``data`` may hold secrets: it goes to the host as a parameter and nowhere else.
    ``keys`` are the fields that name the row (e.g. mailbox, right, trustee), each its own
    column in results files; never secrets.
    """

    row: int
    key: str
    data: Mapping[str, Any]
    keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowResult:
    row: int
    status: str
    key: str = ""
    message: str | None = None
    error_id: str | None = None
    category: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    duration: float | None = None
    reason: str | None = None  # CategoryInfo.Reason of the error
    keys: Mapping[str, str] = field(default_factory=dict)  # the row's naming fields
    goes_on: bool = False  # the template said Continue = $true: the row's next step runs


# The status a row ends with after several steps: the first of these any step reported.
_WORST_FIRST = ("failed", WAITING, "changed", "unchanged", "skipped")


def combined(earlier: RowResult | None, later: RowResult) -> RowResult:
    """A row's result after one more step: the worse status, the later step's message
    (else the earlier's) and error, and the fields of both."""
    if earlier is None:
        return later
    status = next(s for s in _WORST_FIRST if s in (earlier.status, later.status))
    return dataclasses.replace(
        later, status=status, message=later.message or earlier.message,
        fields={**earlier.fields, **later.fields},
        duration=(earlier.duration or 0.0) + (later.duration or 0.0))


@dataclass(frozen=True)
class RowStep:
    """One template the rows go through, on connections it keeps to itself (a step's
    runspaces hold its service only)."""

    open_connection: Callable[[], Connection]
    make_steps: Callable[[list[dict[str, Any]], Connection], list[Step]]


@dataclass
class _Chunk:
    """A chunk on its way through the steps."""

    rows: list[WorkRow]
    first: bool = True  # nothing changed yet: rows not sent can go back to pending
    last: bool = True  # results are final
    carried: dict[int, RowResult] = field(default_factory=dict)  # earlier steps' results
    onward: list[WorkRow] = field(default_factory=list)  # rows for the next step
    begun: Running | None = None  # its first step, sent ahead: its rows are marked sent


@dataclass
class _Ahead:
    """A worker's way to the chunk after its current one, and that chunk once sent."""

    take: TakeNext[list[WorkRow]]
    chunk: _Chunk | None = None


@dataclass
class RunSummary:
    counts: Counter[str]
    failures: list[RowResult]
    elapsed: float
    interrupted: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class RunnerSettings:
    concurrency: int = 3
    chunk_size: int = 25
    attempts: int = ATTEMPTS  # per chunk
    max_retry_seconds: float = MAX_SECONDS
    base_delay: float = 0.5
    max_delay: float = 30.0
    grace_seconds: float = 15.0  # how long Ctrl-C waits for chunks in flight
    max_failures_kept: int = 1000


def parse_results(output: Sequence[Any]) -> dict[int, RowResult]:
    """The per-row result objects of a chunk's output, by row number."""
    results: dict[int, RowResult] = {}
    for item in output:
        if not isinstance(item, Mapping) or "Row" not in item or "Status" not in item:
            continue
        try:
            row = int(item["Row"])
        except (TypeError, ValueError):
            continue
        status = str(item["Status"]).lower()
        extra = {k: v for k, v in item.items()
                 if k not in ("Row", "Status", "Message", "ErrorId", "Category", "Reason",
                              "Continue")}
        named_type, message = exchange_message_parts(
            None if item.get("Message") is None else str(item["Message"]))
        results[row] = RowResult(
            row=row,
            status=status if status in STATUSES else "failed",
            message=None if item.get("Message") is None else message,
            error_id=None if item.get("ErrorId") is None else str(item["ErrorId"]),
            category=None if item.get("Category") is None else str(item["Category"]),
            fields=extra,
            reason=(str(item.get("Reason") or "")
                    or (named_type.rsplit(".", 1)[-1] if named_type else None)),
            goes_on=item.get("Continue") is True,
        )
    return results


class Runner:
    """Runs rows through a template on the management host; see the module docstring."""

    def __init__(
        self,
        *,
        open_connection: Callable[[], Connection],
        make_steps: Callable[[list[dict[str, Any]], Connection], list[Step]],
        journal_path: Path | str,
        job_id: str,
        settings: RunnerSettings | None = None,
        secret_columns: Sequence[str] = (),
        on_results: Callable[[list[RowResult]], None] | None = None,
        limit: AdaptiveLimit | None = None,
        confirm: Callable[[list[WorkRow]], set[int]] | None = None,
        then: Sequence[RowStep] = (),
    ):
        """``limit`` replaces the runner's own pipelines-in-flight limit (a worker's is
        shared with every worker acting on the same tenant). ``then``: the steps rows go
        on to after ``make_steps``' template (see the module docstring)."""
        self.open_connection = open_connection
        self.make_steps = make_steps
        self.then = tuple(then)
        self.journal_path = journal_path
        self.job_id = job_id
        self.settings = settings or RunnerSettings()
        self.secret_columns = tuple(secret_columns)
        self.on_results = on_results
        self.confirm = confirm
        self.limit = limit or AdaptiveLimit(self.settings.concurrency)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._failures: list[RowResult] = []

    def run(self, rows: Iterable[WorkRow]) -> RunSummary:
        started = time.monotonic()
        steps = [RowStep(self.open_connection, self.make_steps), *self.then]
        pools = [Connections(step.open_connection) for step in steps]
        try:
            for pool in pools:
                pool.open_first()
            workers = Workers(self.settings.concurrency,
                              functools.partial(self._worker, steps, pools),
                              name="psbridge-worker", stop=self._stopping,
                              grace_seconds=self.settings.grace_seconds)
            with Journal(self.journal_path) as journal:
                interrupted = workers.run(self._recorded(rows, journal))
        finally:
            for pool in pools:
                pool.close_spares()  # opened, never used (no rows)
        summary = RunSummary(Counter(self._counts), list(self._failures),
                             time.monotonic() - started, interrupted)
        if interrupted:
            raise Interrupted(
                f"interrupted after {summary.total} row(s); what came back is recorded",
                hint=f"psbridge jobs resume {self.job_id}",
            )
        return summary

    def _recorded(self, rows: Iterable[WorkRow], journal: Journal) -> Iterator[list[WorkRow]]:
        """The rows in chunks, each recorded in the journal before it is handed out."""
        for chunk in chunked(rows, self.settings.chunk_size):
            journal.record_rows(self.job_id, ((w.row, w.key, w.data) for w in chunk),
                                secret_columns=self.secret_columns)
            yield chunk

    # worker threads --------------------------------------------------------------------

    @contextlib.contextmanager
    def _worker(self, steps: Sequence[RowStep], pools: Sequence[Connections]
                ) -> Iterator[Callable[[list[WorkRow], TakeNext[list[WorkRow]]], None]]:
        """A worker's own journal connection, and its host connection for each step."""
        with Journal(self.journal_path) as journal, contextlib.ExitStack() as stack:
            links = [stack.enter_context(Link(pool)) for pool in pools]
            yield lambda rows, take: self._process(rows, steps, links, journal, take)

    def _process(self, rows: list[WorkRow], steps: Sequence[RowStep], links: Sequence[Link],
                 journal: Journal, take: TakeNext[list[WorkRow]] = lambda: None) -> None:
        """The chunk through the steps, then each chunk sent ahead meanwhile (``take``
        gives the next chunk waiting)."""
        ahead = _Ahead(take if not self.then else lambda: None, _Chunk(rows))
        while ahead.chunk is not None:
            chunk, ahead.chunk = ahead.chunk, None
            self._through_steps(chunk, steps, links, journal, ahead)

    def _through_steps(self, chunk: _Chunk, steps: Sequence[RowStep], links: Sequence[Link],
                       journal: Journal, ahead: _Ahead) -> None:
        """The chunk through each step in turn, the rows that go on only; the next chunk
        is sent ahead during the first."""
        state = chunk
        for index, (step, link) in enumerate(zip(steps, links, strict=True)):
            state = _Chunk(state.rows, first=index == 0, last=index == len(steps) - 1,
                           carried=state.carried, begun=state.begun)
            self._send(step, link, state, journal, ahead if index == 0 else None)
            if not state.onward:
                return
            state.rows = state.onward

    def _send_ahead(self, step: RowStep, connection: Connection, journal: Journal,
                    ahead: _Ahead) -> None:
        """Send the next waiting chunk's pipeline, behind the one running."""
        if (self._stopping.is_set() or ahead.chunk is not None or connection.closed
                or self.limit.limit < self.limit.maximum  # not while the service throttles
                # nor when the runspace must connect first: that would wait for the host
                or not all(connection.holds(s) for s in connection.services)):
            return
        rows = ahead.take()
        if rows is None:
            return
        ahead.chunk = _Chunk(rows)
        try:
            steps = step.make_steps([{**w.data, "_row": w.row} for w in rows], connection)
        except PsbridgeError as error:  # sent the usual way, after the current chunk
            log.info("rows %d-%d: not sent ahead: %s", rows[0].row, rows[-1].row,
                     error.message)
            return
        journal.mark(self.job_id, [w.row for w in rows], SENT)
        log.debug("rows %d-%d: sending %d row(s) ahead", rows[0].row, rows[-1].row, len(rows))
        ahead.chunk.begun = connection.begin(steps)

    def _near_the_end(self, rows: list[WorkRow], step: RowStep, connection: Connection,
                      journal: Journal, ahead: _Ahead) -> Callable[[list[Any]], None]:
        """What to do with a running chunk's output as it arrives: send the next chunk
        ahead once what is left should take about LEAD_SECONDS."""
        waiting = {w.row for w in rows}
        first: float | None = None  # when the first row reported

        def arrived(output: list[Any]) -> None:
            nonlocal first
            now = time.monotonic()
            waiting.difference_update(parse_results(output))
            done = len(rows) - len(waiting)
            if first is None and done:
                first = now
            # The rows after the first came at this pace: the rest should too.
            per_row = (now - first) / (done - 1) if first is not None and done > 1 else None
            if not waiting or (per_row is not None and len(waiting) * per_row <= LEAD_SECONDS):
                self._send_ahead(step, connection, journal, ahead)

        return arrived

    def _send(self, step: RowStep, link: Link, chunk: _Chunk, journal: Journal,
              ahead: _Ahead | None) -> None:
        remaining = chunk.rows
        begun, chunk.begun = chunk.begun, None
        last_failure: TransientFailure | None = None
        log.debug("rows %d-%d: %s %d row(s)", remaining[0].row, remaining[-1].row,
                  "sent ahead," if begun else "sending", len(remaining))
        policy = retrying(attempts=self.settings.attempts,
                          max_seconds=self.settings.max_retry_seconds,
                          base_delay=self.settings.base_delay, max_delay=self.settings.max_delay,
                          sleep=self._stopping.wait)
        try:
            for attempt in policy:
                with attempt:
                    if self._stopping.is_set() and begun is None:  # sent: collect it
                        return
                    with self.limit.slot():
                        if begun is not None:  # its answer is lost if a fault closed it
                            running, begun = begun, None
                        else:
                            connection = link.get()
                            try:  # connecting first: no row is sent until it succeeds
                                steps = step.make_steps(
                                    [{**w.data, "_row": w.row} for w in remaining], connection)
                            except TransportFault as fault:
                                log.info("rows %d-%d: connecting failed: %s",
                                         remaining[0].row, remaining[-1].row, fault.message)
                                link.drop()
                                last_failure = TransientFailure(
                                    fault.message, connection_limit=fault.busy)
                                raise last_failure from fault
                            journal.mark(self.job_id, [w.row for w in remaining], SENT)
                            running = connection.begin(steps)
                        try:
                            result = running.result(None if ahead is None else (
                                self._near_the_end(remaining, step, running.connection,
                                                   journal, ahead)))
                        except TransportFault as fault:
                            log.info("rows %d-%d: %s; reconnecting", remaining[0].row,
                                     remaining[-1].row, fault.message)
                            link.drop()  # a confirm needs a free connection
                            remaining = self._unconfirmed(remaining, chunk, journal)
                            if not remaining:
                                return
                            last_failure = TransientFailure(fault.message)
                            raise last_failure from fault
                    remaining, last_failure = self._settle(remaining, result, chunk, journal)
                    if last_failure is not None and last_failure.connection_limit:
                        # Nothing ran; give the account's connection back and wait.
                        link.drop()
                    if last_failure is not None:
                        log.info("%d row(s) throttled (%s); %d pipeline(s) in flight now, "
                                 "retry after %ss", len(remaining), last_failure,
                                 self.limit.limit, last_failure.retry_after or "backoff")
                        raise last_failure
                    self.limit.calm()
        except TransientFailure:
            pass
        if remaining and last_failure is not None:
            exhausted = [combined(chunk.carried.get(w.row),
                                  RowResult(w.row, "failed", w.key,
                                            f"gave up after retries: {last_failure}", GAVE_UP,
                                            keys=w.keys))
                         for w in remaining]
            self._record(exhausted, journal)

    def _unconfirmed(self, rows: list[WorkRow], chunk: _Chunk, journal: Journal
                     ) -> list[WorkRow]:
        """After a transport fault, the rows whose change the tenant does not show yet.

        The pipeline may have run on the host although its answer was lost; sending its
        rows again would apply them twice. With a ``confirm`` check (the task reads the
        tenant), rows already applied are recorded as changed and not sent again.
        """
        if self.confirm is None:
            return rows
        try:
            done = self.confirm(rows)
        except PsbridgeError as error:  # cannot tell: the template's own checks decide
            log.info("could not confirm rows %d-%d: %s", rows[0].row, rows[-1].row,
                     error.message)
            return rows
        self._record([combined(chunk.carried.get(w.row),
                               RowResult(w.row, "changed", w.key,
                                         "changed, confirmed after retry", keys=w.keys))
                      for w in rows if w.row in done], journal)
        return [w for w in rows if w.row not in done]

    def _settle(self, rows: list[WorkRow], result: PipelineResult, chunk: _Chunk,
                journal: Journal) -> tuple[list[WorkRow], TransientFailure | None]:
        """Record final rows, keep those going on in ``chunk.onward``; return the rows to
        retry and why."""
        parsed = parse_results(result.output)
        per_row = result.duration / max(1, len(rows))
        terminating = result.errors[-1] if result.failed and result.errors else None
        if terminating is not None and not parsed:
            verdict = classify(terminating.error_id, terminating.category, terminating.message,
                               reason=terminating.reason)
            if verdict.retry:
                if verdict.throttled:
                    self.limit.throttled(verdict.retry_after)
                if verdict.connection_limit and chunk.first:  # nothing ran: still pending
                    journal.mark(self.job_id, [w.row for w in rows], PENDING)
                return rows, TransientFailure(terminating.message,
                                              retry_after=verdict.retry_after,
                                              throttled=verdict.throttled,
                                              connection_limit=verdict.connection_limit)
        final: list[RowResult] = []
        retry: list[WorkRow] = []
        hint: float | None = None
        reason = ""
        for work in rows:
            found = parsed.get(work.row)
            if found is None:
                message = (terminating.message if terminating is not None
                           else "the template returned no result for this row")
                error_id = terminating.error_id if terminating is not None else "NoRowResult"
                final.append(combined(chunk.carried.get(work.row), RowResult(
                    work.row, "failed", work.key, message, error_id,
                    terminating.category if terminating else None, duration=per_row,
                    reason=terminating.reason if terminating else None, keys=work.keys)))
                continue
            if found.status == "failed":
                verdict = classify(found.error_id, found.category, found.message,
                                   reason=found.reason)
                if verdict.retry:
                    retry.append(work)
                    hint = max(hint or 0.0, verdict.retry_after or 0.0) or hint
                    reason = found.message or found.error_id or "throttled"
                    continue
            outcome = combined(chunk.carried.get(work.row), dataclasses.replace(
                found, key=work.key, duration=per_row, goes_on=False, keys=work.keys))
            if found.goes_on and found.status != "failed" and not chunk.last:
                chunk.carried[work.row] = outcome
                chunk.onward.append(work)
            else:
                final.append(outcome)
        self._record(final, journal)
        if retry:
            if chunk.first:  # refused, not applied: back to pending, not unknown
                journal.mark(self.job_id, [w.row for w in retry], PENDING)
            self.limit.throttled(hint)
            return retry, TransientFailure(reason, retry_after=hint, throttled=True,
                                           progressed=bool(final))
        return [], None

    def _record(self, results: list[RowResult], journal: Journal) -> None:
        if not results:
            return
        journal.record_outcomes(self.job_id, [
            RowOutcome(r.row, r.status, r.key,
                       None if r.error_id is None else short_error_id(r.error_id,
                                                                      reason=r.reason),
                       r.message, r.duration)
            for r in results
        ])
        with self._lock:
            for result in results:
                self._counts[result.status] += 1
                if result.status == "failed" and len(
                        self._failures) < self.settings.max_failures_kept:
                    self._failures.append(result)
            if self.on_results is not None:
                self.on_results(results)

