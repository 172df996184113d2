"""One client runspace pool (a WSMan shell): psrpcore state machines, outboxes, runspace slots.

psrpcore is not thread-safe and keeps a single send queue for the pool and all its
pipelines, so every touch of it happens under the pool's condition, and everything it
queues is moved at once into the outbox of its target (the pool or one pipeline), where the
WSMan Receive for that target picks it up. Pipelines run at most ``MaxRunspaces`` at a
time, each on its slot's :class:`Runspace` and worker thread (both kept for the pool's
life: starting a thread costs about a millisecond); the rest wait in order.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from psrpcore import (
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    GetAvailableRunspacesEvent,
    GetCommandMetadataEvent,
    PipelineInputEvent,
    PowerShell,
    PSRPEvent,
    PSRPPayload,
    ResetRunspaceStateEvent,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
    StreamType,
)
from psrpcore.types import PSInvocationState, RunspacePoolState

from toolkit.sandbox.host import faults
from toolkit.sandbox.host.clixml_values import error_record_to_clixml, from_clixml
from toolkit.sandbox.host.psrp_bridge import (
    PipelineInput,
    PipelineSink,
    StreamRouting,
    pipeline_spec,
    stream_routing,
)
from toolkit.sandbox.host.psrp_server import SandboxPipeline, SandboxRunspacePool
from toolkit.sandbox.interface import (
    Backend,
    PipelineFailed,
    PipelineSpec,
    PipelineStopped,
    Runspace,
    SessionContext,
    pipeline_clock,
)
from toolkit.sandbox.values import ErrorRecord

log = logging.getLogger(__name__)

FRAGMENT_SIZE = 32 * 1024
"""Largest PSRP payload taken from psrpcore at once; a Receive response packs several."""
OUTBOX_LIMIT = 4 * 1024 * 1024
"""Bytes a pipeline may have waiting for the client before its writer blocks (flow control)."""
CLOSE_GRACE_SECONDS = 5.0
MAX_RUNSPACES = 64
"""Runspaces (worker threads) a pool gets at most, whatever MaxRunspaces the client asks."""
COALESCE_SECONDS = 0.01
"""How long a Receive with data waits for more from a still-running pipeline."""


class Outbox:
    """Payloads waiting for one Receive target, oldest first."""

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self.size = 0

    def __bool__(self) -> bool:
        return self.size > 0

    def put(self, data: bytes) -> None:
        self._chunks.append(data)
        self.size += len(data)

    def take(self, budget: int) -> bytes:
        """Whole payloads up to ``budget`` bytes (always at least one)."""
        taken: list[bytes] = []
        used = 0
        while self._chunks and (not taken or used + len(self._chunks[0]) <= budget):
            chunk = self._chunks.popleft()
            taken.append(chunk)
            used += len(chunk)
        self.size -= used
        return b"".join(taken)


@dataclass
class HostedPipeline:
    command_id: str
    server: SandboxPipeline
    stop: threading.Event = field(default_factory=threading.Event)
    outbox: Outbox = field(default_factory=Outbox)
    spec: PipelineSpec | None = None
    routing: StreamRouting = field(default_factory=StreamRouting)
    input: PipelineInput | None = None
    started: bool = False
    finished: bool = False
    terminated: bool = False


@dataclass
class ReceiveResult:
    data: bytes
    done: bool


class HostedPool:
    """A runspace pool opened by one authenticated account."""

    def __init__(
        self,
        shell_id: str,
        resource_uri: str,
        context: SessionContext,
        backend: Backend,
        client_ip: str,
    ):
        self.shell_id = shell_id
        self.resource_uri = resource_uri
        self.context = context
        self.client_ip = client_ip
        self.created = time.monotonic()
        self.last_activity = self.created
        self.idle_timeout = float("inf")  # set by the WSMan layer from the Create request
        self._backend = backend
        self._server = SandboxRunspacePool()
        self._condition = threading.Condition()
        self._outbox = Outbox()
        self._pipelines: dict[str, HostedPipeline] = {}
        self._queue: deque[HostedPipeline] = deque()
        self._runspaces: dict[int, Runspace] = {}
        self._busy: set[int] = set()
        self._slot_jobs: dict[int, queue.SimpleQueue[HostedPipeline | None]] = {}
        self._workers: list[threading.Thread] = []
        self._closed = False

    # -- requests from the WSMan layer -------------------------------------------------------

    def open(self, creation_data: bytes) -> None:
        with self._condition:
            self._feed(creation_data, None, StreamType.default)

    def add_pipeline(self, command_id: str, first_fragment: bytes) -> None:
        with self._condition:
            self._check_open()
            pipeline = SandboxPipeline(self._server, uuid.UUID(command_id))
            self._pipelines[command_id] = HostedPipeline(command_id, pipeline)
            self._feed(first_fragment, pipeline.pipeline_id, StreamType.default)

    def send(self, data: bytes, command_id: str | None, stream: str) -> None:
        stream_type = StreamType.prompt_response if stream == "pr" else StreamType.default
        with self._condition:
            self._check_open()
            pipeline_id = self._pipeline(command_id).server.pipeline_id if command_id else None
            self._feed(data, pipeline_id, stream_type)

    def receive(self, command_id: str | None, timeout: float, budget: int) -> ReceiveResult:
        """Long poll: what is waiting for the target, or a timeout fault after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._condition:
            self.last_activity = time.monotonic()
            pipeline = self._pipeline(command_id) if command_id else None
            outbox = pipeline.outbox if pipeline else self._outbox
            while not outbox and not (pipeline and pipeline.finished):
                self._check_open()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise faults.operation_timeout()
                self._condition.wait(remaining)
            if pipeline is not None:
                self._linger(pipeline, min(deadline, time.monotonic() + COALESCE_SECONDS), budget)
            data = outbox.take(budget)
            self._condition.notify_all()  # writers blocked on a full outbox
            if pipeline is None:
                return ReceiveResult(data, done=False)
            done = pipeline.finished and not pipeline.outbox
            if done and pipeline.terminated:
                self._pipelines.pop(pipeline.command_id, None)
            return ReceiveResult(data, done)

    def _linger(self, pipeline: HostedPipeline, until: float, budget: int) -> None:
        """Let a running pipeline add to this response (or finish) for a moment.

        A short pipeline then needs one Receive instead of two: its output and its final
        state travel together.
        """
        while not pipeline.finished and pipeline.outbox.size < budget:
            remaining = until - time.monotonic()
            if remaining <= 0:
                return
            self._condition.wait(remaining)

    def stop_pipeline(self, command_id: str) -> None:
        """The client's ctrl_c: the backend sees ``stop`` set and ends the pipeline."""
        with self._condition:
            pipeline = self._pipeline(command_id)
            self._stop(pipeline)

    def terminate_pipeline(self, command_id: str) -> None:
        """The client's Terminate signal: forget the pipeline (stopping it first if running)."""
        with self._condition:
            pipeline = self._pipelines.get(command_id)
            if pipeline is None:
                return
            pipeline.terminated = True
            if pipeline.finished:
                del self._pipelines[command_id]
            else:
                self._stop(pipeline)

    def close(self) -> None:
        """Stop every pipeline, wait for the workers, close the runspaces (WSMan Delete)."""
        with self._condition:
            if self._closed:
                return
            self._closed = True
            for pipeline in list(self._pipelines.values()):
                self._stop(pipeline)
            for jobs in self._slot_jobs.values():
                jobs.put(None)
            workers = list(self._workers)
        deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._condition:
            runspaces = list(self._runspaces.values())
            self._runspaces.clear()
            if not self._server.pipeline_table and self._server.state == RunspacePoolState.Opened:
                self._server.close()
        for runspace in runspaces:
            try:
                runspace.close()
            except Exception:
                log.exception("closing a runspace of pool %s failed", self.shell_id)

    def command_ids(self) -> list[str]:
        with self._condition:
            return list(self._pipelines)

    # -- psrpcore plumbing (condition held) ---------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise faults.shell_not_found(self.shell_id)

    def _pipeline(self, command_id: str) -> HostedPipeline:
        pipeline = self._pipelines.get(command_id)
        if pipeline is None:
            raise faults.command_not_found(command_id)
        return pipeline

    def _feed(self, data: bytes, pipeline_id: uuid.UUID | None, stream_type: StreamType) -> None:
        self.last_activity = time.monotonic()
        self._server.receive_data(PSRPPayload(data, stream_type, pipeline_id))
        while (event := self._server.next_event()) is not None:
            self._handle(event)
        self._flush()

    def _flush(self) -> None:
        """Move everything psrpcore queued into the outbox of its target."""
        moved = False
        while (payload := self._server.data_to_send(FRAGMENT_SIZE)) is not None:
            moved = True
            if payload.pipeline_id is None:
                self._outbox.put(payload.data)
                continue
            pipeline = self._pipelines.get(str(payload.pipeline_id).upper())
            if pipeline is not None:
                pipeline.outbox.put(payload.data)
        if moved:
            self._condition.notify_all()

    def _handle(self, event: PSRPEvent) -> None:
        if isinstance(event, CreatePipelineEvent):
            self._create(self._pipeline(str(event.pipeline_id).upper()))
        elif isinstance(event, PipelineInputEvent):
            pipeline = self._pipeline(str(event.pipeline_id).upper())
            if pipeline.input is not None:
                pipeline.input.put(from_clixml(event.data))
        elif isinstance(event, EndOfPipelineInputEvent):
            pipeline = self._pipeline(str(event.pipeline_id).upper())
            if pipeline.input is not None:
                pipeline.input.end()
        elif isinstance(event, SetMaxRunspacesEvent):
            self._server.runspace_availability_response(event.ci, True)
            self._dispatch()
        elif isinstance(event, SetMinRunspacesEvent):
            self._server.runspace_availability_response(event.ci, True)
        elif isinstance(event, GetAvailableRunspacesEvent):
            free = max(0, self._slot_limit() - len(self._busy))
            self._server.runspace_availability_response(event.ci, free)
        elif isinstance(event, ResetRunspaceStateEvent):
            self._reset_idle_runspaces()
            self._server.runspace_availability_response(event.ci, True)
        elif isinstance(event, GetCommandMetadataEvent):
            pipeline = self._pipeline(str(event.pipeline_id).upper())
            pipeline.server.begin()
            unsupported = ErrorRecord(
                "The sandbox management host does not answer GetCommandMetadata requests.",
                "SandboxGetCommandMetadataUnsupported",
                category="NotImplemented",
                exception_type="System.NotSupportedException",
            )
            self._finish(pipeline, PSInvocationState.Failed, unsupported)

    def _create(self, pipeline: HostedPipeline) -> None:
        metadata = pipeline.server.metadata  # decoded by psrpcore from the CreatePipeline event
        assert isinstance(metadata, PowerShell)
        if not metadata.no_input:
            pipeline.input = PipelineInput(self._condition, pipeline.stop)
        pipeline.routing = stream_routing(metadata)
        pipeline.spec = pipeline_spec(metadata, pipeline.input)
        self._queue.append(pipeline)
        self._dispatch()

    def _reset_idle_runspaces(self) -> None:
        """ResetRunspaceState: idle runspaces are dropped and reopened fresh when next needed."""
        for index in [i for i in self._runspaces if i not in self._busy]:
            runspace = self._runspaces.pop(index)
            threading.Thread(target=runspace.close, daemon=True).start()

    def _dispatch(self) -> None:
        """Start queued pipelines while a runspace slot is free."""
        while self._queue and len(self._busy) < self._slot_limit():
            pipeline = self._queue.popleft()
            if pipeline.stop.is_set():
                continue
            slot = min(set(range(len(self._busy) + 1)) - self._busy)
            self._busy.add(slot)
            pipeline.started = True
            pipeline.server.begin()
            jobs = self._slot_jobs.get(slot)
            if jobs is None:
                jobs = self._slot_jobs[slot] = queue.SimpleQueue()
                worker = threading.Thread(
                    target=self._work,
                    args=(slot, jobs),
                    name=f"sandbox-{self.shell_id[:8]}-runspace-{slot}",
                    daemon=True,
                )
                self._workers.append(worker)
                worker.start()
            jobs.put(pipeline)

    def _slot_limit(self) -> int:
        return min(max(1, self._server.max_runspaces), MAX_RUNSPACES)

    def _stop(self, pipeline: HostedPipeline) -> None:
        pipeline.stop.set()
        self._condition.notify_all()
        if not pipeline.started and not pipeline.finished:
            # Still queued: it never reaches a runspace.
            pipeline.started = True
            pipeline.server.begin()
            self._finish(pipeline, PSInvocationState.Stopped, None)

    def _finish(
        self, pipeline: HostedPipeline, state: PSInvocationState, error: ErrorRecord | None
    ) -> None:
        if state == PSInvocationState.Failed and error is not None:
            pipeline.server.fail(error_record_to_clixml(error))
        elif state == PSInvocationState.Stopped:
            pipeline.server.stop()
        else:
            pipeline.server.complete()
        self._flush()
        pipeline.server.close()
        pipeline.finished = True
        pipeline.spec = pipeline.input = None  # parameters can be large (CSV data)
        if pipeline.terminated:
            self._pipelines.pop(pipeline.command_id, None)
        self._condition.notify_all()

    # -- worker threads ----------------------------------------------------------------------

    def write(self, pipeline: HostedPipeline, action: Callable[[SandboxPipeline], None]) -> None:
        """Run ``action`` on the psrpcore pipeline for the backend, with flow control."""
        with self._condition:
            if pipeline.stop.is_set() or self._closed:
                raise PipelineStopped()
            action(pipeline.server)
            self._flush()
            while pipeline.outbox.size > OUTBOX_LIMIT and not pipeline.stop.is_set():
                with pipeline_clock().waiting_on_client():
                    self._condition.wait()

    def _runspace(self, slot: int) -> Runspace:
        with self._condition:
            runspace = self._runspaces.get(slot)
        if runspace is None:
            context = SessionContext(
                account=self.context.account,
                role=self.context.role,
                pool_id=self.shell_id,
                runspace_index=slot,
            )
            runspace = self._backend.open_runspace(context)
            with self._condition:
                closed = self._closed
                if not closed:
                    self._runspaces[slot] = runspace
            if closed:  # the pool closed while this runspace was opening
                runspace.close()
                raise PipelineStopped()
        return runspace

    def _work(self, slot: int, jobs: queue.SimpleQueue[HostedPipeline | None]) -> None:
        """A slot's worker thread: runs the pipelines dispatched to it until the pool closes."""
        while (pipeline := jobs.get()) is not None:
            self._run(pipeline, slot)

    def _run(self, pipeline: HostedPipeline, slot: int) -> None:
        assert pipeline.spec is not None
        state = PSInvocationState.Completed
        error: ErrorRecord | None = None
        try:
            runspace = self._runspace(slot)
            sink = PipelineSink(partial(self.write, pipeline), pipeline.routing)
            runspace.invoke(pipeline.spec, sink, pipeline.stop)
            if pipeline.stop.is_set():
                state = PSInvocationState.Stopped
        except PipelineStopped:
            state = PSInvocationState.Stopped
        except PipelineFailed as failure:
            state, error = PSInvocationState.Failed, failure.record
        except Exception as crash:
            log.exception("pipeline %s crashed in the backend", pipeline.command_id)
            state = PSInvocationState.Failed
            error = ErrorRecord(
                f"The sandbox engine failed: {type(crash).__name__}: {crash}",
                "SandboxEngineError",
                exception_type="System.InvalidOperationException",
            )
        with self._condition:
            self._finish(pipeline, state, error)
            self._busy.discard(slot)
            if not self._closed:
                self._dispatch()
