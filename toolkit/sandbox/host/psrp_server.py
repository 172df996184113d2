"""psrpcore's server-side pool and pipeline, with what the sandbox host adds to them.

Kept apart from :mod:`runspace_pool` so the bridge to the backend can name the pipeline
type without importing the pool machinery. These reach into psrpcore's protected state
(pinned below 0.4 in pyproject.toml): the pipeline states PowerShell reports, pypsrp's
spelling of a call id, and queuing CLIXML written by :mod:`clixml_writer`.
"""

from __future__ import annotations

import uuid

from psrpcore import (
    InvalidPipelineState,
    PSRPEvent,
    ServerPipeline,
    ServerRunspacePool,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
    StreamType,
)
from psrpcore._payload import PSRPMessage, create_message
from psrpcore.types import ErrorRecord as ClixmlErrorRecord
from psrpcore.types import PSInvocationState, PSRPMessageType, add_note_property


class SandboxRunspacePool(ServerRunspacePool):
    """psrpcore's server pool, plus pre-written output and pypsrp's call id spelling.

    pypsrp 0.9 names the call id of SetMax/MinRunspaces ``CI`` where psrpcore reads
    ``ci``; PowerShell itself accepts both.
    """

    def _process_SetMaxRunspaces(self, event: SetMaxRunspacesEvent) -> None:
        _alias_call_id(event)
        super()._process_SetMaxRunspaces(event)

    def _process_SetMinRunspaces(self, event: SetMinRunspacesEvent) -> None:
        _alias_call_id(event)
        super()._process_SetMinRunspaces(event)

    @property
    def keys_exchanged(self) -> bool:
        """Whether the client sent its public key, so SecureStrings can reach it."""
        return bool(self._key_requested)

    def prepare_clixml(self, clixml: bytes, message_type: PSRPMessageType,
                       pipeline_id: uuid.UUID) -> None:
        """Queue a message whose CLIXML is already written (see ``clixml_writer``).

        The same as ``prepare_message`` after its serialization step.
        """
        message = create_message(False, message_type, clixml, self.runspace_pool_id, pipeline_id)
        self._send_buffer.append(
            PSRPMessage(message_type, bytearray(message), self.runspace_pool_id, pipeline_id,
                        self._fragment_counter, StreamType.default)
        )


def _alias_call_id(event: PSRPEvent) -> None:
    message = event._ps_object
    if not hasattr(message, "ci") and hasattr(message, "CI"):
        add_note_property(message, "ci", message.CI)


class SandboxPipeline(ServerPipeline):
    """psrpcore's server pipeline, with the state changes PowerShell's server makes."""

    def begin(self) -> None:
        """Running, silently: PowerShell tells the client only Stopped, Completed or Failed."""
        self._change_state(PSInvocationState.Running, emit=False)

    @property
    def keys_exchanged(self) -> bool:
        pool = self.runspace_pool
        assert isinstance(pool, SandboxRunspacePool)
        return pool.keys_exchanged

    def write_clixml_output(self, clixml: bytes) -> None:
        """``write_output`` for an object already written as CLIXML."""
        if self.state != PSInvocationState.Running:
            raise InvalidPipelineState("write pipeline output", self.state,
                                       [PSInvocationState.Running])
        pool = self.runspace_pool
        assert isinstance(pool, SandboxRunspacePool)
        pool.prepare_clixml(clixml, PSRPMessageType.PipelineOutput, self.pipeline_id)

    def fail(self, error: ClixmlErrorRecord) -> None:
        """Failed with the terminating error (psrpcore has no public method for it)."""
        self._change_state(PSInvocationState.Failed, error=error)
