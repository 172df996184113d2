"""Running a registered (emulated tenant) cmdlet: bind, then call once per input object."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from toolkit.sandbox.pwsh import binder, command_params
from toolkit.sandbox.pwsh.cmdlets import (
    CmdletContext,
    CmdletError,
    CmdletTerminatingError,
    RegisteredCmdlet,
)
from toolkit.sandbox.pwsh.coercion import to_string
from toolkit.sandbox.pwsh.commands import CallPrefs
from toolkit.sandbox.pwsh.errors import PSError
from toolkit.sandbox.pwsh.runtime import Arguments, Context
from toolkit.sandbox.values import ErrorRecord


def run_registered(
    cmdlet: RegisteredCmdlet,
    ctx: Context,
    args: Arguments,
    items: Iterator[Any] | None,
    line: int,
) -> Iterator[Any]:
    info = command_params.spec_command(cmdlet.name, cmdlet.product)
    bound = binder.bind(info, args, items is not None)
    prefs = CallPrefs(ctx, bound.common, line)
    buffer: list[Any] = []
    context = CmdletContext(
        session=ctx.runspace.context,
        state=ctx.runspace.state,
        stop=ctx.stop,
        cmdlet_name=cmdlet.name,
        parameter_set=bound.parameter_set
        if bound.parameter_set != binder.ALL_SETS
        else "__AllParameterSets",
        _output=buffer.append,
        _error=lambda record: prefs.error(_stamp(record, cmdlet.name)),
        _warning=prefs.warning,
        _verbose=prefs.verbose_message,
        _information=prefs.information,
    )
    # -WhatIf never reaches the implementation: nothing may change.
    whatif = bool(bound.params.get("WhatIf") or bound.common.get("WhatIf"))

    def call(params: dict[str, Any]) -> Iterator[Any]:
        ctx.check_stop()
        if whatif:
            target = to_string(params.get("Identity", ""))
            prefs.information(
                f'What if: Performing the operation "{cmdlet.name}" on target "{target}".'
            )
            return
        try:
            result = cmdlet.impl(context, params)
            if result is not None:
                for value in result:
                    if buffer:  # written by the cmdlet before this value: those first
                        buffer.append(value)
                        yield from _drain(buffer, prefs)
                    else:
                        prefs.output_variable(value)
                        yield value
        except CmdletTerminatingError as error:
            yield from _drain(buffer, prefs)
            raise PSError(_stamp(error.record, cmdlet.name)) from None
        except CmdletError as error:
            yield from _drain(buffer, prefs)
            prefs.error(_stamp(error.record, cmdlet.name))
        yield from _drain(buffer, prefs)

    if items is None:
        yield from call(bound.params)
        return
    for item in items:
        try:
            params = binder.bind_pipeline_item(info, bound, item)
        except PSError as error:
            error.record.target_object = item
            prefs.error(error.record)
            continue
        yield from call(params)


def _drain(buffer: list[Any], prefs: CallPrefs) -> Iterator[Any]:
    while buffer:
        value = buffer.pop(0)
        prefs.output_variable(value)
        yield value


def _stamp(record: ErrorRecord, name: str) -> ErrorRecord:
    """PowerShell appends ``,<cmdlet>`` to a cmdlet's error ids."""
    if record.command_name is None:
        record.command_name = name
    if "," not in record.fully_qualified_error_id:
        record.fully_qualified_error_id = f"{record.fully_qualified_error_id},{name}"
    return record
