"""Errors at run time: typed catch clauses, thrown values, statement-terminating errors."""

from __future__ import annotations

from typing import Any

from toolkit.sandbox.pwsh.coercion import to_string
from toolkit.sandbox.pwsh.errors import PSError, record
from toolkit.sandbox.pwsh.members import ExceptionInfo
from toolkit.sandbox.pwsh.runtime import Context
from toolkit.sandbox.values import ErrorRecord

# Base classes of the .NET exceptions the engine raises, for typed catch clauses.
_EXCEPTION_BASES = {
    "system.dividebyzeroexception": ("system.arithmeticexception", "system.systemexception"),
    "system.management.automation.psinvalidcastexception": (
        "system.invalidcastexception",
        "system.systemexception",
    ),
    "system.indexoutofrangeexception": ("system.systemexception",),
    "system.argumentexception": ("system.systemexception",),
    "system.invalidoperationexception": ("system.systemexception",),
    "system.notsupportedexception": ("system.systemexception",),
    "system.formatexception": ("system.systemexception",),
    "system.management.automation.parameterbindingvalidationexception": (
        "system.management.automation.parameterbindingexception",
    ),
    "system.management.automation.parameterbindingargumenttransformationexception": (
        "system.management.automation.parameterbindingexception",
    ),
}


def catch_matches(type_name: str, error: ErrorRecord) -> bool:
    """Whether ``catch [type_name]`` takes this error: its exception type or a base."""
    wanted = type_name.casefold()
    if not wanted.startswith("system.") and "." not in wanted:
        wanted = "system." + wanted
    if wanted in ("system.exception", "system.object"):
        return True
    actual = error.exception_type.casefold()
    if wanted == "system.management.automation.runtimeexception":
        return actual.startswith("system.management.automation.")
    return actual == wanted or wanted in _EXCEPTION_BASES.get(actual, ())


def throw_record(value: Any, line: int) -> ErrorRecord:
    if isinstance(value, ErrorRecord):
        return value
    if isinstance(value, ExceptionInfo):
        return record(
            value.message,
            value.message,
            category="OperationStopped",
            exception_type=value.type_name,
            line=line,
        )
    if value is None:
        return record("ScriptHalted", "ScriptHalted", category="OperationStopped", line=line)
    message = to_string(value)
    return record(message, message, category="OperationStopped", target=value, line=line)


def statement_error(ctx: Context, error: PSError) -> None:
    """A statement-terminating error outside try: report it and go on, as PowerShell does.

    ``$ErrorActionPreference`` applies: Stop ends the script, SilentlyContinue and Ignore
    keep it off the error stream (it still lands in ``$Error``)."""
    action = ctx.error_action().casefold()
    if action == "stop":
        raise PSError(error.record, script_terminating=True)
    ctx.errors += 1
    ctx.last_ok = False
    ctx.record_error(error.record)
    if action not in ("silentlycontinue", "ignore"):
        ctx.sink.error(error.record)
