"""The table of native built-ins: how a family declares its commands and finds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from toolkit.sandbox.pwsh import binder, command_params, param_types
from toolkit.sandbox.pwsh.commands import CallPrefs
from toolkit.sandbox.pwsh.runtime import Arguments, Context

Run = Callable[[Context, CallPrefs, dict[str, Any], Iterator[Any] | None], Iterator[Any]]


@dataclass
class NativeCommand:
    info: binder.CommandInfo
    run: Run

    def invoke(
        self, ctx: Context, args: Arguments, items: Iterator[Any] | None, line: int
    ) -> Iterator[Any]:
        """Bind ``args`` and run as a pipeline stage."""
        bound = binder.bind(self.info, args, items is not None)
        prefs = CallPrefs(ctx, bound.common, line)
        for value in self.run(ctx, prefs, bound.params, items):
            prefs.output_variable(value)
            yield value


_BUILTINS: dict[str, NativeCommand] = {}


def find_builtin(key: str) -> NativeCommand | None:
    return _BUILTINS.get(key)


def parameter(
    name: str,
    type_name: str = "Object",
    position: int | None = None,
    *,
    pipeline: bool = False,
    switch: bool = False,
    mandatory: bool = False,
    aliases: tuple[str, ...] = (),
) -> binder.ParamInfo:
    convert = (
        param_types.converter_for("SwitchParameter" if switch else type_name)
        if type_name != "Object" or switch
        else (lambda value: value)
    )
    return binder.ParamInfo(
        name,
        "SwitchParameter" if switch else type_name,
        list(aliases),
        {binder.ALL_SETS: (mandatory, position)},
        pipeline_value=pipeline,
        is_switch=switch,
        convert=convert,
    )


def native(name: str, aliases: tuple[str, ...], *params: binder.ParamInfo) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        plist = list(params)
        command_params.add_common(plist)
        command = NativeCommand(binder.CommandInfo(name, plist, [binder.ALL_SETS], None), run)
        for key in (name, *aliases):
            _BUILTINS[key.casefold()] = command
        return run

    return register


def input_objects(
    params: dict[str, Any], items: Iterator[Any] | None, key: str = "InputObject"
) -> Iterator[Any]:
    """Pipeline input, or the -InputObject argument as one object (not enumerated, as
    PowerShell documents for ForEach-Object, Where-Object, Sort-Object, ...)."""
    if items is not None:
        return items
    if key in params:
        return iter([params[key]])
    return iter(())
