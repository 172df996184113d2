"""The parameter lists binding works from: :func:`spec_command` builds a cmdlet's
:class:`~.binder.CommandInfo` from Microsoft's metadata (:mod:`.spec`), and
:func:`add_common` appends the common parameters (``-ErrorAction``, ``-WhatIf``...) that
every command takes, cmdlets, script functions and native built-ins alike. Building a
command's parameters is apart from binding a call's arguments to them (:mod:`.binder`) and
from converting an argument to its parameter's type (:mod:`.param_types`).
"""

from __future__ import annotations

from functools import lru_cache

from toolkit.sandbox.pwsh.binder import ALL_SETS, CommandInfo, ParamInfo
from toolkit.sandbox.pwsh.param_types import converter_for
from toolkit.sandbox.pwsh.spec import cmdlet_specs

COMMON_PARAMETERS: dict[str, tuple[str, list[str], bool]] = {
    # name: (type, aliases, is_switch)
    "Verbose": ("SwitchParameter", ["vb"], True),
    "Debug": ("SwitchParameter", ["db"], True),
    "ErrorAction": ("ActionPreference", ["ea"], False),
    "WarningAction": ("ActionPreference", ["wa"], False),
    "InformationAction": ("ActionPreference", ["infa"], False),
    "ProgressAction": ("ActionPreference", ["proga"], False),
    "ErrorVariable": ("String", ["ev"], False),
    "WarningVariable": ("String", ["wv"], False),
    "InformationVariable": ("String", ["iv"], False),
    "OutVariable": ("String", ["ov"], False),
    "OutBuffer": ("Int32", ["ob"], False),
    "PipelineVariable": ("String", ["pv"], False),
    "WhatIf": ("SwitchParameter", ["wi"], True),
    "Confirm": ("SwitchParameter", ["cf"], True),
}


@lru_cache(maxsize=1024)
def spec_command(name: str, product: str | None) -> CommandInfo:
    """CommandInfo of a cmdlet from cmdlets.json, restricted to ``product`` when given."""
    spec = cmdlet_specs()[name]
    declared = [s for s in spec["parameter_sets"] if s != "(All)"]
    params: list[ParamInfo] = []
    for pname, meta in spec["parameters"].items():
        applicable = meta.get("applicable")
        if product and applicable and product not in applicable:
            continue
        sets: dict[str, tuple[bool, int | None]] = {}
        for set_name, info in meta["sets"].items():
            key = ALL_SETS if set_name == "(All)" else set_name
            sets[key] = (bool(info["required"]), info["position"])
            if key != ALL_SETS and key not in declared:
                declared.append(key)
        pipeline = str(meta.get("pipeline") or "")
        by_value = pipeline == "True" or "ByValue" in pipeline
        by_property = "bypropertyname" in pipeline.casefold()
        type_name = meta["type"]
        params.append(
            ParamInfo(
                pname,
                type_name,
                list(meta.get("aliases") or []),
                sets,
                pipeline_value=by_value,
                pipeline_property=by_property,
                is_switch=type_name.rsplit(".", 1)[-1] == "SwitchParameter",
                convert=converter_for(type_name),
            )
        )
    add_common(params)
    return CommandInfo(name, params, declared or [ALL_SETS], spec.get("default_set"))


def add_common(params: list[ParamInfo]) -> None:
    """Append the common parameters a command's metadata does not already list."""
    present = {p.name.casefold() for p in params}
    for cname, (ctype, aliases, switch) in COMMON_PARAMETERS.items():
        if cname.casefold() in present:
            continue
        params.append(
            ParamInfo(
                cname,
                ctype,
                aliases,
                {ALL_SETS: (False, None)},
                is_switch=switch,
                common=True,
                convert=converter_for(ctype),
            )
        )
