"""The seam between psrpcore's server pipeline and the backend's :class:`Runspace`.

Builds the :class:`PipelineSpec` a backend runs from the client's CreatePipeline message,
feeds pipeline input as it arrives, and gives the backend an :class:`OutputSink` whose
every record becomes a PSRP message for the client.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from psrpcore import PowerShell as ClixmlPowerShell
from psrpcore.types import DebugRecord, PipelineResultTypes, VerboseRecord, WarningRecord

from toolkit.sandbox.host.clixml_values import (
    error_record_to_clixml,
    from_clixml,
    holds_secure_string,
    to_clixml,
)
from toolkit.sandbox.host.clixml_writer import fast_clixml
from toolkit.sandbox.host.psrp_server import SandboxPipeline
from toolkit.sandbox.interface import Command, PipelineSpec, PipelineStopped, pipeline_clock
from toolkit.sandbox.values import ErrorRecord, InformationRecord

_NO_SESSION_KEY = ErrorRecord(
    "A SecureString cannot be sent to this client: it has not exchanged a session key "
    "(call RunspacePool.exchange_keys() before running the pipeline).",
    "SandboxSessionKeyMissing",
    category="SecurityError",
    exception_type="System.Management.Automation.Remoting.PSRemotingTransportException",
)
"""PowerShell would ask the client for its key and wait; pypsrp 0.9 never answers."""

STREAM = "stream"
OUTPUT = "output"
DISCARD = "null"


@dataclass
class StreamRouting:
    """Where each non-output stream goes, from the client's ``merge_*`` / redirection settings.

    Applied to the whole pipeline: the host does not know which command wrote a record.
    """

    error: str = STREAM
    warning: str = STREAM
    verbose: str = STREAM
    debug: str = STREAM
    information: str = STREAM


def _route(result_type: Any) -> str | None:
    if result_type == PipelineResultTypes.Output:
        return OUTPUT
    if result_type == PipelineResultTypes.Null:
        return DISCARD
    return None


def stream_routing(metadata: ClixmlPowerShell) -> StreamRouting:
    routing = StreamRouting()
    for command in metadata.commands:
        for stream in ("error", "warning", "verbose", "debug", "information"):
            target = _route(getattr(command, f"merge_{stream}"))
            if target:
                setattr(routing, stream, target)
        merges_error = command.merge_my == PipelineResultTypes.Error
        if merges_error and command.merge_to == PipelineResultTypes.Output:
            routing.error = OUTPUT
    return routing


class PipelineInput:
    """Pipeline input as the client sends it; iterating blocks until more arrives or it ends.

    Shares the pool's condition, so ``stop`` (which notifies it) wakes a waiting reader.
    """

    def __init__(self, condition: threading.Condition, stop: threading.Event):
        self._condition = condition
        self._stop = stop
        self._items: deque[Any] = deque()
        self._ended = False

    def put(self, value: Any) -> None:
        """Called with the pool's condition held."""
        self._items.append(value)
        self._condition.notify_all()

    def end(self) -> None:
        """Called with the pool's condition held."""
        self._ended = True
        self._condition.notify_all()

    def __iter__(self) -> Iterator[Any]:
        while True:
            with self._condition:
                while not self._items and not self._ended and not self._stop.is_set():
                    with pipeline_clock().waiting_on_client():
                        self._condition.wait()
                if self._stop.is_set():
                    raise PipelineStopped()
                if not self._items:
                    return
                value = self._items.popleft()
            yield value


def pipeline_spec(metadata: ClixmlPowerShell, pipeline_input: PipelineInput | None) -> PipelineSpec:
    commands = [
        Command(
            text=str(command.command_text),
            is_script=bool(command.is_script),
            parameters=[
                (None if name is None else str(name), from_clixml(value))
                for name, value in command.parameters
            ],
            use_local_scope=command.use_local_scope,
            end_of_statement=bool(command.end_of_statement),
        )
        for command in metadata.commands
    ]
    return PipelineSpec(commands=commands, input=pipeline_input)


PipelineWrite = Callable[[Callable[[SandboxPipeline], None]], None]
"""Runs an action on the psrpcore pipeline under the pool's lock, with flow control."""


class PipelineSink:
    """The :class:`OutputSink` handed to ``Runspace.invoke``; callable from any thread.

    Once the client stopped the pipeline every write raises :class:`PipelineStopped`, so an
    engine busy producing output ends promptly.
    """

    def __init__(self, write: PipelineWrite, routing: StreamRouting):
        self._write = write
        self._routing = routing

    def _emit(
        self,
        route: str,
        as_output: Callable[[], Any],
        to_stream: Callable[[SandboxPipeline], None],
    ) -> None:
        """Write a stream record where the client's redirection sends it."""
        if route == DISCARD:
            return
        if route == OUTPUT:
            self._write(lambda pipeline: pipeline.write_output(as_output()))
        else:
            self._write(to_stream)

    def output(self, value: Any) -> None:
        written = fast_clixml(value)
        if written is not None:
            self._write(lambda pipeline: pipeline.write_clixml_output(written))
            return
        converted = to_clixml(value)
        if not holds_secure_string(value):
            self._write(lambda pipeline: pipeline.write_output(converted))
            return
        refusal = error_record_to_clixml(_NO_SESSION_KEY)

        def write_secret(pipeline: SandboxPipeline) -> None:
            if pipeline.keys_exchanged:
                pipeline.write_output(converted)
            else:
                pipeline.write_error(refusal.Exception, refusal.CategoryInfo, None,
                                     refusal.FullyQualifiedErrorId)

        self._write(write_secret)

    def error(self, record: ErrorRecord) -> None:
        converted = error_record_to_clixml(record)
        self._emit(
            self._routing.error,
            lambda: converted,
            lambda pipeline: pipeline.write_error(
                converted.Exception,
                converted.CategoryInfo,
                converted.TargetObject,
                converted.FullyQualifiedErrorId,
                script_stack_trace=converted.ScriptStackTrace,
            ),
        )

    def warning(self, message: str) -> None:
        self._emit(
            self._routing.warning,
            lambda: WarningRecord(Message=message),
            lambda pipeline: pipeline.write_warning(message),
        )

    def verbose(self, message: str) -> None:
        self._emit(
            self._routing.verbose,
            lambda: VerboseRecord(Message=message),
            lambda pipeline: pipeline.write_verbose(message),
        )

    def debug(self, message: str) -> None:
        self._emit(
            self._routing.debug,
            lambda: DebugRecord(Message=message),
            lambda pipeline: pipeline.write_debug(message),
        )

    def information(self, record: InformationRecord) -> None:
        data = to_clixml(record.message_data)
        self._emit(
            self._routing.information,
            lambda: data,
            lambda pipeline: pipeline.write_information(
                data, record.source, tags=list(record.tags)
            ),
        )

    def progress(self, activity: str, status: str, percent: int) -> None:
        self._write(
            lambda pipeline: pipeline.write_progress(activity, 0, status, percent_complete=percent)
        )
