"""Runspace implementation (interpreter in progress)."""

from __future__ import annotations

import threading

from toolkit.sandbox.interface import OutputSink, PipelineSpec, SessionContext
from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry


class PwshRunspace:
    def __init__(self, registry: CmdletRegistry, context: SessionContext):
        self.registry = registry
        self.context = context

    def invoke(self, spec: PipelineSpec, sink: OutputSink, stop: threading.Event) -> None:
        raise NotImplementedError("the interpreter is being written")

    def close(self) -> None:
        pass
