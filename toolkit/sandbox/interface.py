"""The narrow interface between the sandbox's PSRP host and what evaluates pipelines.

The host (WSMan + PSRP) knows nothing about PowerShell semantics: for each pipeline it
builds a :class:`PipelineSpec`, picks a free :class:`Runspace` of the pool and calls
:meth:`Runspace.invoke` on a worker thread with an :class:`OutputSink` that forwards every
record to the client as it is written. The backend (the PowerShell engine with the
emulated tenant plugged in) knows nothing about WSMan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolkit.sandbox.values import ErrorRecord, InformationRecord


@dataclass
class Command:
    """One command of a pipeline, as the client's ``add_cmdlet``/``add_script`` sent it.

    ``parameters`` keeps order; a ``None`` name is a positional argument
    (``add_argument``). A switch sent as ``add_parameter("Force")`` arrives with the value
    ``True``... or ``None`` (pypsrp sends ``$null``); the engine treats a named switch whose
    value is ``None`` as present.
    """

    text: str
    is_script: bool
    parameters: list[tuple[str | None, Any]] = field(default_factory=list)
    use_local_scope: bool | None = None
    end_of_statement: bool = False


@dataclass
class PipelineSpec:
    """A whole pipeline: statements separated by ``end_of_statement`` commands."""

    commands: list[Command]
    input: Iterable[Any] | None = None  # None: the client sent no pipeline input


@dataclass
class SessionContext:
    """Who opened the runspace pool: the authenticated sandbox account and its role."""

    account: str
    role: str  # "admin" | "helpdesk"
    pool_id: str = ""
    runspace_index: int = 0


class PipelineClock:
    """The host's own time in the pipeline running on this thread: the wall time since the
    pipeline started, less the time it waited on the client (pipeline input still to come,
    room for output the client has not taken yet). The service time a cmdlet call takes
    (``--cmdlet-ms``) is measured on it, so the emulator's slowness (its own work, and its
    runspaces waiting for one another on one interpreter) is taken from the service time,
    while a client's slowness shows as it would on a real host."""

    def __init__(self, now: Callable[[], float] = time.perf_counter) -> None:
        self._now = now
        self._started = now()
        self._client = 0.0
        self.service_due = 0.0  # host seconds at which the last service call was to end

    def host_seconds(self) -> float:
        return self._now() - self._started - self._client

    @property
    def client_seconds(self) -> float:
        """How long the pipeline has waited on the client so far."""
        return self._client

    @contextmanager
    def waiting_on_client(self) -> Iterator[None]:
        started = self._now()
        try:
            yield
        finally:
            self._client += self._now() - started


_pipelines = threading.local()


def start_pipeline_clock(now: Callable[[], float] = time.perf_counter) -> PipelineClock:
    """A new pipeline starts on this thread (a runspace runs one pipeline at a time);
    ``now`` is the wall clock (tests pass their own)."""
    clock = _pipelines.clock = PipelineClock(now)
    return clock


def pipeline_clock() -> PipelineClock:
    """The clock of the pipeline running on this thread (started now if none was)."""
    clock = getattr(_pipelines, "clock", None)
    return clock if isinstance(clock, PipelineClock) else start_pipeline_clock()


class OutputSink(Protocol):
    """Where a running pipeline writes its streams. Calls may come from any thread."""

    def output(self, value: Any) -> None: ...
    def error(self, record: ErrorRecord) -> None: ...
    def warning(self, message: str) -> None: ...
    def verbose(self, message: str) -> None: ...
    def debug(self, message: str) -> None: ...
    def information(self, record: InformationRecord) -> None: ...
    def progress(self, activity: str, status: str, percent: int) -> None: ...


class PipelineFailed(Exception):
    """A terminating error ended the pipeline: the client sees the pipeline state Failed."""

    def __init__(self, record: ErrorRecord):
        super().__init__(record.message)
        self.record = record


class PipelineStopped(Exception):
    """The pipeline noticed ``stop`` (client ctrl_c) and ended: state Stopped."""


class Runspace(Protocol):
    """One runspace of a pool: variables and service connections live here."""

    def invoke(self, spec: PipelineSpec, sink: OutputSink, stop: threading.Event) -> None:
        """Run the pipeline to completion; raise PipelineFailed or PipelineStopped."""
        ...

    def close(self) -> None:
        """The pool closed: drop connections held by this runspace."""
        ...


class Backend(Protocol):
    """What the host serves: accounts to authenticate, runspaces to run pipelines in."""

    def authenticate(self, username: str, password: str) -> SessionContext | None:
        """The account's context when the credentials are right, else None."""
        ...

    def account_password(self, username: str) -> str | None:
        """Clear-text password of an account (NTLM's server side needs it), else None."""
        ...

    def open_runspace(self, context: SessionContext) -> Runspace: ...
