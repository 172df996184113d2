"""Calling commands: functions, script blocks, native built-ins and registered cmdlets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from toolkit.sandbox.pwsh import binder, command_params
from toolkit.sandbox.pwsh.coercion import ArrayList, to_string
from toolkit.sandbox.pwsh.errors import (
    PSError,
    ReturnSignal,
    command_not_found,
    runtime_error,
)
from toolkit.sandbox.pwsh.runtime import MISSING, Body, Context, Scope, ScriptBlock
from toolkit.sandbox.values import ErrorRecord, Hashtable, InformationRecord


@dataclass
class ArgSpec:
    kind: str  # "param" | "arg" | "splat"
    name: str | None
    value: Callable[[Context], Any] | None


@dataclass
class CallSite:
    name: str | None
    name_expr: Callable[[Context], Any] | None
    dot_source: bool
    args: list[ArgSpec]
    line: int
    merge_errors: bool = False
    discard_output: bool = False
    discard_errors: bool = False


def evaluate_args(ctx: Context, site: CallSite) -> list[tuple[str | None, Any]]:
    args: list[tuple[str | None, Any]] = []
    for spec in site.args:
        if spec.kind == "arg":
            assert spec.value is not None
            args.append((None, spec.value(ctx)))
        elif spec.kind == "param":
            args.append((spec.name, binder.NO_VALUE if spec.value is None else spec.value(ctx)))
        else:
            assert spec.name is not None
            value = ctx.get(spec.name)
            if isinstance(value, Hashtable):
                for key, item in value.items():
                    args.append((to_string(key), item))
            elif isinstance(value, list | tuple):
                args.extend((None, item) for item in value)
            elif value is not None:
                args.append((None, value))
    return args


class CallPrefs:
    """Common parameters of one call and the streams they govern."""

    __slots__ = (
        "ctx",
        "error_action",
        "error_variable",
        "line",
        "out_variable",
        "verbose",
        "warning_action",
        "warning_variable",
    )

    def __init__(self, ctx: Context, common: dict[str, Any], line: int | None = None):
        self.ctx = ctx
        self.line = line
        if not common:  # most calls: what the lookups below give for an empty mapping
            self.error_action: str | None = None
            self.warning_action: str | None = None
            self.error_variable = self.warning_variable = self.out_variable = None
            self.verbose = False
            return
        self.error_action = common.get("ErrorAction")
        self.warning_action = common.get("WarningAction")
        self.error_variable = _variable_name(common.get("ErrorVariable"))
        self.warning_variable = _variable_name(common.get("WarningVariable"))
        self.out_variable = _variable_name(common.get("OutVariable"))
        self.verbose = bool(common.get("Verbose"))
        for name in (self.error_variable, self.warning_variable, self.out_variable):
            if name and not name.startswith("+"):
                ctx.scope.vars[name.casefold()] = ArrayList()

    def error(self, record: ErrorRecord) -> None:
        if record.script_line is None:
            record.script_line = self.line
        variables = [self.error_variable] if self.error_variable else []
        self.ctx.write_error(record, self.error_action, variables)

    def warning(self, message: str) -> None:
        action = (
            self.warning_action or to_string(self.ctx.get("warningpreference") or "Continue")
        ).casefold()
        if action == "stop":
            raise PSError(
                ErrorRecord(
                    "The running command stopped because the preference variable "
                    '"WarningPreference" or common parameter is set to Stop: ' + message,
                    "ActionPreferenceStop",
                    "OperationStopped",
                    "System.Management.Automation.ActionPreferenceStopException",
                ),
                script_terminating=True,
            )
        if action == "ignore":
            return
        if self.warning_variable:
            self.ctx.append_variable(self.warning_variable, message)
        if action != "silentlycontinue":
            self.ctx.sink.warning(message)

    def verbose_message(self, message: str) -> None:
        preference = to_string(self.ctx.get("verbosepreference") or "SilentlyContinue")
        if self.verbose or preference.casefold() == "continue":
            self.ctx.sink.verbose(message)

    def information(self, message: Any) -> None:
        self.ctx.sink.information(InformationRecord(message))

    def output_variable(self, value: Any) -> None:
        if self.out_variable:
            self.ctx.append_variable(self.out_variable, value)


def _variable_name(value: Any) -> str | None:
    if value is None:
        return None
    return to_string(value).removeprefix("$")


def invoke_command(ctx: Context, site: CallSite, items: Iterator[Any] | None) -> Iterator[Any]:
    """Run one command of a pipeline over the items of the previous stage."""
    ctx.check_stop()
    args = evaluate_args(ctx, site)
    if site.name_expr is not None:
        target = site.name_expr(ctx)
        if isinstance(target, ScriptBlock):
            body = target.body
            return _redirect(
                ctx, site, _lazy(ctx, body, "", args, items, new_scope=not site.dot_source)
            )
        name = to_string(target)
    else:
        assert site.name is not None
        name = site.name
    return _redirect(ctx, site, _dispatch(ctx, site, name, args, items))


def _redirect(ctx: Context, site: CallSite, stream: Iterator[Any]) -> Iterator[Any]:
    if not (site.merge_errors or site.discard_output or site.discard_errors):
        return stream
    return _redirected(ctx, site, stream)


def _redirected(ctx: Context, site: CallSite, stream: Iterator[Any]) -> Iterator[Any]:
    """``2>&1``, ``2>$null``, ``>$null``: the error stream is redirected only while this
    command runs (between pulls other commands of the pipeline run with the real sink)."""
    sink = ctx.sink
    captured: list[ErrorRecord] = []

    class _Redirect:
        def __getattr__(self, name: str) -> Any:
            return getattr(sink, name)

        def error(self, record: ErrorRecord) -> None:
            if site.merge_errors:
                captured.append(record)
            elif not site.discard_errors:
                sink.error(record)

    redirect = _Redirect()
    while True:
        ctx.sink = redirect
        try:
            value = next(stream)
        except StopIteration:
            break
        finally:
            ctx.sink = sink
        while captured:
            yield captured.pop(0)
        if not site.discard_output:
            yield value
    while captured:
        yield captured.pop(0)


def _dispatch(
    ctx: Context,
    site: CallSite,
    name: str,
    args: list[tuple[str | None, Any]],
    items: Iterator[Any] | None,
) -> Iterator[Any]:
    function = ctx.scope.find_function(name.casefold())
    if function is not None:
        return _lazy(ctx, function.body, function.name, args, items, new_scope=not site.dot_source)
    command = ctx.runspace.resolve_command(name)
    if command is not None:
        return command.run(ctx, args, items, site.line)
    raise command_not_found(name, site.line)


def _lazy(
    ctx: Context,
    body: Body,
    name: str,
    args: list[tuple[str | None, Any]],
    items: Iterator[Any] | None,
    *,
    new_scope: bool,
) -> Iterator[Any]:
    """A function or script block as a pipeline stage: it runs when the pipeline pulls."""
    yield from invoke_body(ctx, body, name, args, items, new_scope=new_scope)


def run_block_items(
    ctx: Context,
    block: Any,
    args: list[Any] | list[tuple[str | None, Any]],
    *,
    dollar_under: Any = MISSING,
    new_scope: bool = True,
    input_items: Iterator[Any] | None = None,
) -> list[Any]:
    """Run a script block and return what it wrote to the pipeline."""
    if not isinstance(block, ScriptBlock):
        raise runtime_error(
            "The expression after '&' in a pipeline element produced an object "
            "that was not valid. It must result in a command name, a script "
            "block, or a CommandInfo object.",
            "BadExpression",
        )
    pairs = [a if isinstance(a, tuple) else (None, a) for a in args]
    return invoke_body(
        ctx,
        block.body,
        "",
        pairs,
        input_items,
        new_scope=new_scope,
        dollar_under=dollar_under,
    )


def invoke_body(
    ctx: Context,
    body: Body,
    name: str,
    args: list[tuple[str | None, Any]],
    items: Iterator[Any] | None,
    *,
    new_scope: bool = True,
    dollar_under: Any = MISSING,
    write: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Bind ``args`` to ``body``'s param() and run its begin/process/end blocks.

    Output goes to ``write`` as it is produced when given, else it is returned.
    """
    out: list[Any] = []
    emit_to = write or out.append
    caller, calling_function = ctx.scope, ctx.function
    scope = Scope(caller) if new_scope else caller
    saved_under = scope.vars.get("_", MISSING)
    ctx.scope = scope
    if name:
        ctx.function = name
    try:
        if dollar_under is not MISSING:
            scope.vars["_"] = dollar_under
        input_list = list(items) if items is not None else []
        bind_script_params(ctx, body, name, args, scope, bool(input_list))
        if body.process is None:
            scope.vars["input"] = input_list
        try:
            if body.begin is not None:
                body.begin(ctx, emit_to)
            if body.process is not None:
                if items is None:  # no pipeline: the process block runs once
                    body.process(ctx, emit_to)
                for item in input_list:
                    scope.vars["_"] = item
                    _bind_pipeline_param(body, scope, item)
                    body.process(ctx, emit_to)
            if body.end is not None:
                body.end(ctx, emit_to)
        except ReturnSignal:
            pass
    finally:
        ctx.scope, ctx.function = caller, calling_function
        if not new_scope:
            if saved_under is MISSING:
                scope.vars.pop("_", None)
            else:
                scope.vars["_"] = saved_under
    return out


def _bind_pipeline_param(body: Body, scope: Scope, item: Any) -> None:
    for param in body.params or []:
        if param.pipeline:
            scope.vars[param.name.casefold()] = param.convert(item) if param.convert else item
            return


def bind_script_params(
    ctx: Context,
    body: Body,
    name: str,
    args: list[tuple[str | None, Any]],
    scope: Scope,
    has_input: bool,
) -> None:
    """PowerShell binding for a script's or function's param() block."""
    params = body.params
    if params is None:
        scope.vars["args"] = [value for _, value in args if _ is None] + [
            f"-{n}" for n, _ in args if n is not None
        ]
        return
    info = _script_command_info(body, name)
    bound = binder.bind(info, args, has_input)
    # Common parameters of a script or function set its preference variables.
    for common, variable in _PREFERENCES.items() if bound.common else ():
        if common in bound.common:
            value = bound.common[common]
            if isinstance(value, bool):
                value = "Continue" if value else "SilentlyContinue"
            scope.vars[variable] = value
    for definition in params:
        key = definition.name.casefold()
        if definition.name in bound.params:
            scope.vars[key] = bound.params[definition.name]
        elif definition.is_switch:
            scope.vars[key] = False
        elif definition.default is not None:
            value = definition.default(ctx)
            convert = definition.type_convert
            scope.vars[key] = convert(value) if convert is not None else value
        elif definition.type_name in _VALUE_TYPES and definition.type_convert is not None:
            scope.vars[key] = definition.type_convert(None)  # [int] -> 0, [string] -> ''
        else:
            scope.vars[key] = None
    scope.vars["psboundparameters"] = Hashtable(bound.params.items())
    scope.vars["args"] = []


_PREFERENCES = {
    "ErrorAction": "erroractionpreference",
    "WarningAction": "warningpreference",
    "InformationAction": "informationpreference",
    "Verbose": "verbosepreference",
    "Debug": "debugpreference",
}

# Declared types whose unbound parameters hold the type's empty value, not $null.
_VALUE_TYPES = frozenset(
    {
        "System.String",
        "System.Int32",
        "System.Int64",
        "System.Double",
        "System.Decimal",
        "System.Boolean",
    }
)


def _script_command_info(body: Body, name: str) -> binder.CommandInfo:
    if isinstance(body.command_info, binder.CommandInfo):
        return body.command_info
    params: list[binder.ParamInfo] = []
    implicit = 0
    for definition in body.params or []:
        position = definition.position
        if position is None and not definition.is_switch:
            position = 1000 + implicit
            implicit += 1

        def convert(value: Any, d: Any = definition) -> Any:
            if d.convert is None:
                return value
            return d.convert(value)

        params.append(
            binder.ParamInfo(
                definition.name,
                definition.type_name or "Object",
                definition.aliases,
                {binder.ALL_SETS: (definition.mandatory, position)},
                pipeline_value=definition.pipeline,
                is_switch=definition.is_switch,
                convert=convert,
            )
        )
    command_params.add_common(params)
    info = binder.CommandInfo(name, params, [binder.ALL_SETS], None, script_params=True)
    body.command_info = info
    return info
