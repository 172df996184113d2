"""Execution state shared by compiled code: scopes, the per-pipeline context, script blocks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolkit.sandbox.interface import OutputSink, PipelineStopped, SessionContext
from toolkit.sandbox.pwsh.coercion import ArrayList, ScriptBlockValue
from toolkit.sandbox.pwsh.errors import PSError
from toolkit.sandbox.values import ErrorRecord

Out = Callable[[Any], None]
Arguments = list[tuple[str | None, Any]]


class _Void:
    """What a void .NET method returns: a statement made of it writes nothing."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "VOID"


VOID = _Void()
MISSING = object()


class Scope:
    """Variables (keys lower-cased) and functions of one PowerShell scope."""

    __slots__ = ("functions", "parent", "strict", "vars")

    def __init__(self, parent: Scope | None = None):
        self.vars: dict[str, Any] = {}
        self.functions: dict[str, FunctionDef] = {}
        self.parent = parent
        self.strict: int | None = None  # Set-StrictMode version here; None: inherited

    def strict_mode(self) -> int:
        scope: Scope | None = self
        while scope is not None:
            if scope.strict is not None:
                return scope.strict
            scope = scope.parent
        return 0

    def lookup(self, key: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            value = scope.vars.get(key, MISSING)
            if value is not MISSING:
                return value
            scope = scope.parent
        return MISSING

    def find_function(self, key: str) -> FunctionDef | None:
        scope: Scope | None = self
        while scope is not None:
            found = scope.functions.get(key)
            if found is not None:
                return found
            scope = scope.parent
        return None


@dataclass
class ParamDef:
    """One parameter of a ``param()`` block."""

    name: str
    type_name: str | None = None
    # Conversion to the declared type; ``convert`` adds the [Validate*] checks to it.
    type_convert: Callable[[Any], Any] | None = None
    convert: Callable[[Any], Any] | None = None
    default: Callable[[Context], Any] | None = None
    mandatory: bool = False
    position: int | None = None
    pipeline: bool = False
    is_switch: bool = False
    aliases: list[str] = field(default_factory=list)
    validators: list[Callable[[Any], str | None]] = field(default_factory=list)


@dataclass
class Body:
    """A compiled script block body: its parameters and begin/process/end statements."""

    params: list[ParamDef] | None
    begin: Callable[[Context, Out], None] | None
    process: Callable[[Context, Out], None] | None
    end: Callable[[Context, Out], None] | None
    text: str
    line: int
    # The binder's view of ``params``, built on first call (a binder.CommandInfo).
    command_info: Any = field(default=None, compare=False, repr=False)


class ScriptBlock(ScriptBlockValue):
    """A ``{ ... }`` value: a compiled body (closures capture nothing but the tree)."""

    __slots__ = ("body", "text")

    def __init__(self, body: Body):
        self.body = body
        self.text = body.text

    def __repr__(self) -> str:
        return f"ScriptBlock({self.text!r})"


@dataclass
class FunctionDef:
    name: str
    body: Body


@dataclass(frozen=True)
class ResolvedCommand:
    """A command found by name that is not a script function: a built-in or a cmdlet."""

    name: str  # as the command spells it
    source: str  # its module, as Get-Command shows it
    # Runs it as a pipeline stage: (ctx, arguments, input items or None, script line).
    run: Callable[[Context, Arguments, Iterator[Any] | None, int], Iterator[Any]]


# Finds a command by name for a session (None: no such command, or hidden from it).
CommandResolver = Callable[[str, SessionContext], ResolvedCommand | None]


class RunspaceView(Protocol):
    """What running code sees of its runspace.

    Compiled code and commands reach commands through ``resolve_command``, which the code
    that builds the runspace fills in: this keeps the engine's modules from importing the
    built-ins and the cmdlet plumbing that import them.
    """

    context: SessionContext
    state: dict[str, Any]
    environment: dict[str, str]
    modules: dict[str, str]
    global_scope: Scope

    def resolve_command(self, name: str) -> ResolvedCommand | None: ...


class Context:
    """The state of one running pipeline in one runspace."""

    __slots__ = (
        "errors",
        "function",
        "last_ok",
        "runspace",
        "scope",
        "script_scope",
        "sink",
        "statements",
        "stop",
        "try_depth",
    )

    def __init__(
        self, runspace: RunspaceView, sink: OutputSink, stop: threading.Event, scope: Scope
    ):
        self.runspace = runspace
        self.sink = sink
        self.stop = stop
        self.scope = scope
        self.script_scope = scope
        self.try_depth = 0
        self.statements = 0
        self.errors = 0  # errors written so far: a statement that adds none succeeded ($?)
        self.last_ok = True
        self.function = ""  # the function running now (error ids of Write-Error name it)

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise PipelineStopped()

    def get(self, key: str) -> Any:
        value = self.scope.lookup(key)
        return None if value is MISSING or value is VOID else value

    def error_action(self) -> str:
        value = self.scope.lookup("erroractionpreference")
        return "Continue" if value is MISSING or value is None else str(value)

    def record_error(self, record: ErrorRecord) -> None:
        """Add to ``$Error`` (most recent first)."""
        errors = self.runspace.global_scope.vars.get("error")
        if isinstance(errors, ArrayList):
            errors.insert(0, record)
            del errors[256:]

    def write_error(
        self, record: ErrorRecord, action: str | None = None, variables: Iterable[str] = ()
    ) -> None:
        """A non-terminating error under ``action`` (default ``$ErrorActionPreference``)."""
        action = (action or self.error_action()).casefold()
        if action == "stop":
            raise PSError(record, script_terminating=True)
        self.errors += 1
        if action == "ignore":
            return
        self.record_error(record)
        for name in variables:
            self.append_variable(name, record)
        if action not in ("silentlycontinue",):
            self.sink.error(record)

    def append_variable(self, name: str, value: Any) -> None:
        """``-ErrorVariable +name`` appends; a plain name was reset at call start."""
        key = name.lstrip("+").casefold()
        current = self.scope.lookup(key)
        if not isinstance(current, ArrayList):
            current = ArrayList()
            self.scope.vars[key] = current
        current.append(value)


def emit(value: Any, out: Out) -> None:
    """Write a statement's value to the pipeline, unrolling arrays one level."""
    if value is VOID:
        return
    if isinstance(value, list | tuple):
        for item in value:
            out(item)
    else:
        out(value)


def collapse(items: list[Any]) -> Any:
    """A pipeline's collected output as a value: nothing -> $null, one -> it, more -> array."""
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return items
