"""Writing to the streams: Write-Output, -Error, -Warning, -Verbose, ..., -Progress, Out-Null."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from toolkit.sandbox.pwsh.builtins.registry import input_objects, native, parameter
from toolkit.sandbox.pwsh.coercion import to_string
from toolkit.sandbox.pwsh.commands import CallPrefs
from toolkit.sandbox.pwsh.members import ExceptionInfo
from toolkit.sandbox.pwsh.runtime import Context
from toolkit.sandbox.values import ErrorRecord, InformationRecord


@native(
    "Write-Output",
    ("echo", "write"),
    parameter("InputObject", "Object", 0, pipeline=True),
    parameter("NoEnumerate", switch=True),
)
def write_output(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    if items is not None:
        yield from items
        return
    value = params.get("InputObject")
    if params.get("NoEnumerate") or not isinstance(value, list | tuple):
        yield value
    else:
        yield from value


@native(
    "Write-Error",
    (),
    parameter("Message", "String", 0, aliases=("Msg",)),
    parameter("ErrorRecord"),
    parameter("Exception"),
    parameter("Category", "ErrorCategory"),
    parameter("ErrorId", "String"),
    parameter("TargetObject"),
    parameter("CategoryReason", "String"),
    parameter("RecommendedAction", "String"),
)
def write_error(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    if isinstance(params.get("ErrorRecord"), ErrorRecord):
        prefs.error(params["ErrorRecord"])
        return iter(())
    exception = params.get("Exception")
    message = params.get("Message")
    exception_type = "Microsoft.PowerShell.Commands.WriteErrorException"
    if isinstance(exception, ExceptionInfo):
        exception_type = exception.type_name
        message = message or exception.message
    elif exception is not None:
        message = message or to_string(exception)
    error = ErrorRecord(
        message=to_string(message),
        # PowerShell suffixes the id with the function that wrote the error.
        fully_qualified_error_id=(
            params.get("ErrorId") or "Microsoft.PowerShell.Commands.WriteErrorException"
        )
        + (f",{ctx.function}" if ctx.function else ""),
        category=params.get("Category") or "NotSpecified",
        exception_type=exception_type,
        target_object=params.get("TargetObject"),
        reason=params.get("CategoryReason"),
    )
    prefs.error(error)
    return iter(())


@native("Write-Warning", (), parameter("Message", "String", 0, pipeline=True, aliases=("Msg",)))
def write_warning(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for message in input_objects(params, items, "Message"):
        prefs.warning(to_string(message))
    return iter(())


@native("Write-Verbose", (), parameter("Message", "String", 0, pipeline=True, aliases=("Msg",)))
def write_verbose(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for message in input_objects(params, items, "Message"):
        prefs.verbose_message(to_string(message))
    return iter(())


@native("Write-Debug", (), parameter("Message", "String", 0, pipeline=True, aliases=("Msg",)))
def write_debug(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    preference = to_string(ctx.get("debugpreference") or "SilentlyContinue").casefold()
    for message in input_objects(params, items, "Message"):
        if preference == "continue":
            ctx.sink.debug(to_string(message))
    return iter(())


@native(
    "Write-Information",
    (),
    parameter("MessageData", "Object", 0, aliases=("Msg", "Message")),
    parameter("Tags", "String[]", 1),
)
def write_information(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    ctx.sink.information(
        InformationRecord(params.get("MessageData"), tags=list(params.get("Tags") or []))
    )
    return iter(())


@native(
    "Write-Host",
    (),
    parameter("Object", "Object", 0),
    parameter("NoNewline", switch=True),
    parameter("Separator"),
    parameter("ForegroundColor", "String"),
    parameter("BackgroundColor", "String"),
)
def write_host(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    ctx.sink.information(InformationRecord(to_string(params.get("Object")), tags=["PSHOST"]))
    return iter(())


@native(
    "Write-Progress",
    (),
    parameter("Activity", "String", 0),
    parameter("Status", "String", 1),
    parameter("Id", "Int32"),
    parameter("PercentComplete", "Int32"),
    parameter("SecondsRemaining", "Int32"),
    parameter("CurrentOperation", "String"),
    parameter("ParentId", "Int32"),
    parameter("Completed", switch=True),
)
def write_progress(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    percent = -1 if params.get("PercentComplete") is None else params["PercentComplete"]
    if params.get("Completed"):
        percent = 100
    ctx.sink.progress(params.get("Activity") or "", params.get("Status") or "Processing", percent)
    return iter(())


@native("Out-Null", (), parameter("InputObject", pipeline=True))
def out_null(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for _ in input_objects(params, items):
        pass
    return iter(())
