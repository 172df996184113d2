"""The engine's entry points: open runspaces over a cmdlet registry, run a script in-process.

:func:`run_script` runs a script in-process and returns every stream collected, for
tests of the tenant and of the templates. Here the runspace gets its command resolver:
the built-ins first, then the registry's cmdlets the session may see.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from toolkit.sandbox.interface import Command, PipelineFailed, PipelineSpec, SessionContext
from toolkit.sandbox.pwsh.builtins import find_builtin
from toolkit.sandbox.pwsh.cmdlet_calls import run_registered
from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.pwsh.runspace import PwshRunspace
from toolkit.sandbox.pwsh.runtime import CommandResolver, ResolvedCommand
from toolkit.sandbox.values import ErrorRecord, InformationRecord


def command_resolver(registry: CmdletRegistry) -> CommandResolver:
    """Built-ins by name or alias, then the registered cmdlets ``session`` may see."""

    def resolve(name: str, session: SessionContext) -> ResolvedCommand | None:
        native = find_builtin(name.casefold())
        if native is not None:
            return ResolvedCommand(native.info.name, "Microsoft.PowerShell.Utility", native.invoke)
        registered = registry.lookup(name)
        if registered is None or (registered.visible is not None
                                  and not registered.visible(session)):
            return None
        return ResolvedCommand(registered.name, registered.spec.get("module", ""),
                               partial(run_registered, registered))

    return resolve


class Engine:
    """Opens runspaces that run scripts against the registered cmdlets."""

    def __init__(self, registry: CmdletRegistry, modules: Mapping[str, str] | None = None):
        self.registry = registry
        self.modules = modules  # the host's installed modules; None: the default set

    def open_runspace(self, context: SessionContext) -> PwshRunspace:
        return PwshRunspace(command_resolver(self.registry), context, self.modules)


@dataclass
class Result:
    """Every stream of one in-process run."""

    output: list[Any] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    information: list[Any] = field(default_factory=list)
    debug: list[str] = field(default_factory=list)
    progress: list[tuple[str, str, int]] = field(default_factory=list)
    failed: ErrorRecord | None = None  # the record of PipelineFailed, when it failed


class CollectingSink:
    """An OutputSink that keeps everything in a :class:`Result`."""

    def __init__(self) -> None:
        self.result = Result()

    def output(self, value: Any) -> None:
        self.result.output.append(value)

    def error(self, record: ErrorRecord) -> None:
        self.result.errors.append(record)

    def warning(self, message: str) -> None:
        self.result.warnings.append(message)

    def verbose(self, message: str) -> None:
        self.result.verbose.append(message)

    def debug(self, message: str) -> None:
        self.result.debug.append(message)

    def information(self, record: InformationRecord) -> None:
        self.result.information.append(record.message_data)

    def progress(self, activity: str, status: str, percent: int) -> None:
        self.result.progress.append((activity, status, percent))


DEFAULT_SESSION = SessionContext(account="admin@sandbox", role="admin")


def run_script(
    target: Engine | PwshRunspace,
    script: str,
    parameters: dict[str, Any] | list[tuple[str | None, Any]] | None = None,
    *,
    input: Iterable[Any] | None = None,
    session: SessionContext | None = None,
    raise_on_failure: bool = False,
) -> Result:
    """Run ``script`` (with its ``param()`` values) and collect every stream.

    A pipeline that fails leaves its record in ``Result.failed`` (or raises
    ``PipelineFailed`` with ``raise_on_failure``).
    """
    runspace = (
        target.open_runspace(session or DEFAULT_SESSION) if isinstance(target, Engine) else target
    )
    if isinstance(parameters, dict):
        pairs: list[tuple[str | None, Any]] = list(parameters.items())
    else:
        pairs = list(parameters or [])
    sink = CollectingSink()
    spec = PipelineSpec([Command(script, True, pairs)], input)
    try:
        runspace.invoke(spec, sink, threading.Event())
    except PipelineFailed as failure:
        if raise_on_failure:
            raise
        sink.result.failed = failure.record
    return sink.result
