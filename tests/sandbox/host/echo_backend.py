"""A small Backend for transport tests: each command name does one recognisable thing.

A script is read as its first word (so ``add_script("Get-Spec")`` runs Get-Spec with the
script's parameters). The commands of a statement run in order, each one's output being
the next one's input, and the first one reads the pipeline input.
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from toolkit.sandbox.interface import (
    Command,
    OutputSink,
    PipelineFailed,
    PipelineSpec,
    PipelineStopped,
    SessionContext,
    start_pipeline_clock,
)
from toolkit.sandbox.values import ErrorRecord, Hashtable, InformationRecord, PSObject, SecureString

ITEM_TYPES = ["Sandbox.Test.Item", "System.Object"]


class EchoRunspace:
    def __init__(self, backend: EchoBackend, context: SessionContext):
        self.backend = backend
        self.context = context
        self.variables: dict[str, Any] = {}
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.backend.closed_runspaces.append(self.context)

    def invoke(self, spec: PipelineSpec, sink: OutputSink, stop: threading.Event) -> None:
        self.backend.invocations.append(spec)
        statement_input: Iterable[Any] | None = spec.input
        batch: list[Any] | None = None
        for command in spec.commands:
            source = statement_input if batch is None else batch
            name = command.text.split()[0] if command.is_script else command.text
            handler = COMMANDS.get(name.casefold())
            if handler is None:
                raise PipelineFailed(
                    ErrorRecord(
                        f"The term '{name}' is not recognized.",
                        "CommandNotFoundException",
                        category="ObjectNotFound",
                        exception_type="System.Management.Automation.CommandNotFoundException",
                        target_object=name,
                    )
                )
            collected: list[Any] = []
            is_last = command.end_of_statement or command is spec.commands[-1]
            emit = sink.output if is_last else collected.append
            handler(self, command, list(source) if source is not None else [], emit, sink, stop)
            batch = None if command.end_of_statement else collected
            if command.end_of_statement:
                statement_input = None


Handler = Callable[
    [EchoRunspace, Command, list[Any], Callable[[Any], None], OutputSink, threading.Event], None
]


def _named(command: Command) -> dict[str, Any]:
    return {name.casefold(): value for name, value in command.parameters if name is not None}


def _echo(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
          sink: OutputSink, stop: threading.Event) -> None:
    for value in inp:
        emit(value)
    for _name, value in cmd.parameters:
        emit(value)


def _objects(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
             sink: OutputSink, stop: threading.Event) -> None:
    for index in range(int(_named(cmd).get("count", 3))):
        emit(PSObject({"Index": index, "Name": f"item{index}"}, type_names=ITEM_TYPES))


def _streams(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
             sink: OutputSink, stop: threading.Event) -> None:
    sink.error(
        ErrorRecord(
            "Couldn't find object \"ghost@contoso.com\".",
            "ManagementObjectNotFound,Get-Mailbox",
            category="ObjectNotFound",
            exception_type="Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            target_object="ghost@contoso.com",
            command_name="Get-Mailbox",
            script_line=3,
        )
    )
    sink.warning("Micro delay applied.")
    sink.verbose("Looking up ghost@contoso.com")
    sink.debug("debug text")
    sink.information(InformationRecord("info text", source="Write-Streams", tags=["t1"]))
    sink.progress("Scanning", "1 of 2", 50)
    emit("done")


def _fail(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
          sink: OutputSink, stop: threading.Event) -> None:
    emit("before failure")
    raise PipelineFailed(
        ErrorRecord(
            "The operation couldn't be performed because object 'x' couldn't be found.",
            "ManagementObjectNotFound",
            category="ObjectNotFound",
            exception_type="Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            target_object="x",
        )
    )


def _crash(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
           sink: OutputSink, stop: threading.Event) -> None:
    raise RuntimeError("a bug in the engine")


def _wait_stop(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
               sink: OutputSink, stop: threading.Event) -> None:
    emit("waiting")
    rs.backend.waiting.set()
    if not stop.wait(30):
        raise AssertionError("the pipeline was never stopped")
    rs.backend.stopped.set()
    raise PipelineStopped()


def _sleep(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
           sink: OutputSink, stop: threading.Event) -> None:
    started = time.monotonic()
    if stop.wait(int(_named(cmd).get("milliseconds", 100)) / 1000):
        raise PipelineStopped()
    emit(PSObject({"Runspace": rs.context.runspace_index, "Started": started,
                   "Ended": time.monotonic()}))


def _context(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
             sink: OutputSink, stop: threading.Event) -> None:
    emit(PSObject({"Account": rs.context.account, "Role": rs.context.role,
                   "Pool": rs.context.pool_id, "Runspace": rs.context.runspace_index}))


def _spec(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
          sink: OutputSink, stop: threading.Event) -> None:
    emit(Hashtable({"Text": cmd.text, "IsScript": cmd.is_script,
                    "Names": [name for name, _ in cmd.parameters],
                    "Input": inp}))


def _set_var(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
             sink: OutputSink, stop: threading.Event) -> None:
    named = _named(cmd)
    rs.variables[named["name"]] = named["value"]


def _get_var(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
             sink: OutputSink, stop: threading.Event) -> None:
    emit(rs.variables.get(_named(cmd)["name"]))


def _values(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
            sink: OutputSink, stop: threading.Event) -> None:
    """One of each value type the host converts, inside a PSObject and on its own."""
    sample = {
        "Text": "héllo 'quoted' <xml>",
        "Int": 42,
        "Big": 2**40,
        "Negative": -(2**40),
        "Double": 1.5,
        "Flag": True,
        "Nothing": None,
        "When": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
        "Id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "Bytes": b"\x00\x01binary",
        "List": [1, "two", [3]],
        "Table": Hashtable({"Add": "adele@contoso.com"}),
    }
    emit(PSObject(sample, type_names=["Sandbox.Test.Values", "System.Object"], to_string="values"))


def _reveal(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
            sink: OutputSink, stop: threading.Event) -> None:
    """Echo the clear text of SecureString parameters (only ever in tests)."""
    for _name, value in cmd.parameters:
        emit(value.reveal() if isinstance(value, SecureString) else f"not secure: {value!r}")


def _secret(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
            sink: OutputSink, stop: threading.Event) -> None:
    emit(SecureString("s3cret!"))


def _many(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
          sink: OutputSink, stop: threading.Event) -> None:
    for index in range(int(_named(cmd).get("count", 10))):
        emit(index)


def _clocked(rs: EchoRunspace, cmd: Command, inp: list[Any], emit: Callable[[Any], None],
             sink: OutputSink, stop: threading.Event) -> None:
    """``count`` strings of 1 KB, then how long the pipeline was the host's work and how
    long it waited on the client."""
    clock = start_pipeline_clock()
    for _ in range(int(_named(cmd).get("count", 10))):
        emit("x" * 1024)
    emit(PSObject({"Host": clock.host_seconds(), "Client": clock.client_seconds}))


COMMANDS: dict[str, Handler] = {
    "write-echo": _echo,
    "get-objects": _objects,
    "write-streams": _streams,
    "fail-pipeline": _fail,
    "crash-engine": _crash,
    "wait-stop": _wait_stop,
    "sleep": _sleep,
    "get-context": _context,
    "get-spec": _spec,
    "set-var": _set_var,
    "get-var": _get_var,
    "get-values": _values,
    "reveal": _reveal,
    "get-secret": _secret,
    "get-many": _many,
    "get-clocked": _clocked,
}


class EchoBackend:
    def __init__(self, accounts: dict[str, tuple[str, str]]):
        self.accounts = accounts  # username -> (password, role)
        self.invocations: list[PipelineSpec] = []
        self.closed_runspaces: list[SessionContext] = []
        self.opened_runspaces: list[SessionContext] = []
        self.waiting = threading.Event()
        self.stopped = threading.Event()

    def authenticate(self, username: str, password: str) -> SessionContext | None:
        account = self.accounts.get(username.casefold())
        if account is None or account[0] != password:
            return None
        return SessionContext(account=username.casefold(), role=account[1])

    def account_password(self, username: str) -> str | None:
        account = self.accounts.get(username.casefold())
        return account[0] if account else None

    def open_runspace(self, context: SessionContext) -> EchoRunspace:
        self.opened_runspaces.append(context)
        return EchoRunspace(self, context)
