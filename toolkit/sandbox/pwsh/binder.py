"""Parameter binding the way PowerShell binds a compiled cmdlet, driven by metadata.

Order: named arguments (exact name, alias, then unique prefix), parameter-set narrowing,
positional arguments, type conversion, then the parameter set choice and the mandatory
check (a parameter that takes pipeline input counts as satisfied when input is coming).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolkit.sandbox.pwsh import coercion
from toolkit.sandbox.pwsh.errors import PSError, ValidationError, binding_error
from toolkit.sandbox.pwsh.param_types import ConvertFailure
from toolkit.sandbox.values import Hashtable, PSObject

ALL_SETS = "__AllParameterSets"
NO_VALUE = object()
# A named argument sent as $null by a PSRP client: present switch, else $null.
SWITCH_OR_NULL = object()


@dataclass
class ParamInfo:
    name: str
    type_name: str
    aliases: list[str]
    sets: dict[str, tuple[bool, int | None]]  # set -> (mandatory, position); ALL_SETS = every
    pipeline_value: bool = False
    pipeline_property: bool = False
    is_switch: bool = False
    common: bool = False
    convert: Callable[[Any], Any] = field(default=lambda value: value)


@dataclass
class CommandInfo:
    name: str
    params: list[ParamInfo]
    all_sets: list[str]
    default_set: str | None
    script_params: bool = False  # function/script: transformation-error wording
    # Derived once, so binding a call is dictionary work (commands run per row).
    lookup: dict[str, ParamInfo] = field(default_factory=dict, init=False)
    names: list[tuple[str, ParamInfo]] = field(default_factory=list, init=False)
    set_names: dict[str, frozenset[str]] = field(default_factory=dict, init=False)
    mandatory: dict[str, list[ParamInfo]] = field(default_factory=dict, init=False)
    positions: dict[tuple[str, ...], list[ParamInfo]] = field(default_factory=dict, init=False)
    plans: dict[PlanKey, SetPlan] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        every = frozenset(self.all_sets)
        for param in self.params:
            for alias in [param.name, *param.aliases]:
                self.lookup.setdefault(alias.casefold(), param)
                self.names.append((alias.casefold(), param))
            self.set_names[param.name] = every if ALL_SETS in param.sets else frozenset(param.sets)
        for set_name in self.all_sets:
            self.mandatory[set_name] = [
                p
                for p in self.params
                if (entry := p.sets.get(set_name) or p.sets.get(ALL_SETS)) is not None and entry[0]
            ]


# Parameters bound by name (in order), how many positional arguments, pipeline input or not.
PlanKey = tuple[tuple[str, ...], int, bool]


@dataclass(frozen=True)
class SetPlan:
    """What binding decided from the parameter names alone, kept for the next call with
    the same names: which parameters took the positional arguments, the parameter set and
    the parameters left for pipeline input. Only successful bindings are kept."""

    positional: tuple[ParamInfo, ...]
    parameter_set: str
    pipeline_params: list[ParamInfo]


@dataclass
class Bound:
    params: dict[str, Any]
    common: dict[str, Any]
    parameter_set: str
    pipeline_params: list[ParamInfo]


def _resolve(info: CommandInfo, given: str) -> ParamInfo:
    key = given.casefold()
    found = info.lookup.get(key)
    if found is not None:
        return found
    matches: dict[str, ParamInfo] = {}
    for alias, param in info.names:
        if alias.startswith(key):
            matches[param.name] = param
    if len(matches) == 1:
        found = next(iter(matches.values()))
        info.lookup[key] = found  # a unique prefix stays unique
        return found
    if not matches:
        raise binding_error(
            f"A parameter cannot be found that matches parameter name '{given}'.",
            "NamedParameterNotFound",
            info.name,
        )
    options = " ".join(f"-{name}" for name in matches)
    raise binding_error(
        f"Parameter cannot be processed because the parameter name '{given}' is ambiguous. "
        f"Possible matches include: {options}.",
        "AmbiguousParameter",
        info.name,
    )


def convert_value(info: CommandInfo, param: ParamInfo, value: Any) -> Any:
    try:
        return param.convert(value)
    except ConvertFailure as failure:
        raise _binding_conversion(info, param, str(failure)) from None
    except ValidationError as error:
        refused = binding_error(
            error.record.message, "ParameterArgumentValidationError", info.name, "InvalidData"
        )
        refused.record.exception_type = error.record.exception_type
        raise refused from None
    except coercion.BooleanArgumentError as error:
        raise _binding_conversion(info, param, error.record.message, transformation=True) from None
    except PSError as error:
        raise _binding_conversion(info, param, error.record.message) from None


def _binding_conversion(
    info: CommandInfo, param: ParamInfo, message: str, *, transformation: bool = False
) -> PSError:
    """Script parameters and Boolean/switch arguments fail in the argument transformation
    step (ParameterArgumentTransformationError); other cmdlet arguments fail to bind."""
    if info.script_params or transformation:
        error = binding_error(
            f"Cannot process argument transformation on parameter '{param.name}'. {message}",
            "ParameterArgumentTransformationError",
            info.name,
            category="InvalidData",
        )
        error.record.exception_type = (
            "System.Management.Automation.ParameterBindingArgumentTransformationException"
        )
        return error
    return binding_error(
        f"Cannot bind parameter '{param.name}'. {message}",
        "CannotConvertArgumentNoMessage",
        info.name,
    )


def bind(info: CommandInfo, args: list[tuple[str | None, Any]], has_input: bool) -> Bound:
    """Bind evaluated arguments; ``(name, NO_VALUE)`` is a bare ``-Name``."""
    raw: dict[str, tuple[ParamInfo, Any]] = {}
    positional: list[Any] = []
    index = 0
    while index < len(args):
        name, value = args[index]
        index += 1
        if name is None:
            positional.append(value)
            continue
        param = _resolve(info, name)
        if param.name in raw:
            raise binding_error(
                f"Cannot bind parameter because parameter '{param.name}' is specified more "
                "than once. To provide multiple values to parameters that can accept multiple "
                'values, use the array syntax. For example, "-parameter value1,value2,value3".',
                "ParameterAlreadyBound",
                info.name,
            )
        if param.is_switch:
            raw[param.name] = (param, True if value in (NO_VALUE, SWITCH_OR_NULL) else value)
            continue
        if value is SWITCH_OR_NULL:
            value = None
        if value is NO_VALUE:
            if index < len(args) and args[index][0] is None:
                value = args[index][1]
                index += 1
            else:
                raise binding_error(
                    f"Missing an argument for parameter '{param.name}'. Specify a parameter "
                    f"of type '{_display_type(param.type_name)}' and try again.",
                    "MissingArgument",
                    info.name,
                )
        raw[param.name] = (param, value)

    key: PlanKey = (tuple(raw), len(positional), has_input)
    plan = info.plans.get(key)
    if plan is not None:
        for param, value in zip(plan.positional, positional, strict=True):
            raw[param.name] = (param, value)
        params, common = _converted(info, raw)
        return Bound(params, common, plan.parameter_set, plan.pipeline_params)

    named_only = len(raw)
    candidates = _narrow(info, raw, info.all_sets)
    if positional:
        _bind_positional(info, raw, positional, candidates)
        candidates = _narrow(info, raw, candidates)
    params, common = _converted(info, raw)
    chosen = _choose_set(info, raw, candidates, has_input)
    pipeline_params = []
    if has_input:
        pipeline_params = [
            p
            for p in info.params
            if (p.pipeline_value or p.pipeline_property)
            and p.name not in raw
            and (ALL_SETS in p.sets or chosen in p.sets or chosen == ALL_SETS)
        ]
    positional_params = tuple(param for param, _ in list(raw.values())[named_only:])
    info.plans[key] = SetPlan(positional_params, chosen, pipeline_params)
    return Bound(params, common, chosen, pipeline_params)


def _converted(
    info: CommandInfo, raw: dict[str, tuple[ParamInfo, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bound values converted to their parameters' types: (parameters, common ones)."""
    params: dict[str, Any] = {}
    common: dict[str, Any] = {}
    for pname, (param, value) in raw.items():
        converted = convert_value(info, param, value)
        if param.common:
            common[pname] = converted
        else:
            params[pname] = converted
    return params, common


def _narrow(
    info: CommandInfo, raw: dict[str, tuple[ParamInfo, Any]], candidates: list[str]
) -> list[str]:
    """The parameter sets every bound parameter belongs to; none is an error."""
    for name in raw:
        allowed = info.set_names[name]
        if len(allowed) != len(info.all_sets):
            candidates = [s for s in candidates if s in allowed]
    if not candidates:
        raise binding_error(
            "Parameter set cannot be resolved using the specified named parameters.",
            "AmbiguousParameterSet",
            info.name,
        )
    return candidates


def _display_type(type_name: str) -> str:
    simple = {
        "string": "System.String",
        "int32": "System.Int32",
        "boolean": "System.Boolean",
        "string[]": "System.String[]",
    }
    return simple.get(type_name.casefold(), type_name)


def _position(param: ParamInfo, candidates: list[str]) -> int | None:
    positions = [param.sets[s][1] for s in candidates if s in param.sets]
    if ALL_SETS in param.sets:
        positions.append(param.sets[ALL_SETS][1])
    known = [p for p in positions if p is not None]
    return min(known) if known else None


def _positional_order(info: CommandInfo, candidates: tuple[str, ...]) -> list[ParamInfo]:
    """Parameters that take positional arguments in these sets, by position (cached)."""
    cached = info.positions.get(candidates)
    if cached is None:
        ranked = sorted(
            (
                (pos, p)
                for p in info.params
                if not p.is_switch and (pos := _position(p, list(candidates))) is not None
            ),
            key=lambda pair: pair[0],
        )
        cached = info.positions[candidates] = [p for _, p in ranked]
    return cached


def _bind_positional(
    info: CommandInfo,
    raw: dict[str, tuple[ParamInfo, Any]],
    positional: list[Any],
    candidates: list[str],
) -> None:
    ordered = [p for p in _positional_order(info, tuple(candidates)) if p.name not in raw]
    for value in positional:
        if not ordered:
            shown = coercion.to_string(value)
            raise binding_error(
                f"A positional parameter cannot be found that accepts argument '{shown}'.",
                "PositionalParameterNotFound",
                info.name,
            )
        param = ordered.pop(0)
        raw[param.name] = (param, value)


def _mandatory_missing(
    info: CommandInfo, set_name: str, bound: dict[str, Any], has_input: bool
) -> list[str]:
    return [
        param.name
        for param in info.mandatory[set_name]
        if param.name not in bound
        and not (has_input and (param.pipeline_value or param.pipeline_property))
    ]


def _preferred(info: CommandInfo, sets: list[str]) -> str:
    """The set PowerShell would pick among equally valid ones.

    The cmdlet's default set when the metadata names it. Microsoft's pages do not record
    DefaultParameterSetName for Exchange cmdlets, so otherwise a set named Identity or
    Default (what those cmdlets declare as default), then the first in page order.
    """
    if info.default_set in sets:
        return str(info.default_set)
    for name in ("Identity", "Default"):
        if name in sets:
            return name
    return sets[0]


def _choose_set(
    info: CommandInfo, bound: dict[str, Any], candidates: list[str], has_input: bool
) -> str:
    satisfied = [s for s in candidates if not _mandatory_missing(info, s, bound, has_input)]
    if satisfied:
        return _preferred(info, satisfied)
    target = _preferred(info, candidates)
    missing = _mandatory_missing(info, target, bound, has_input)
    raise binding_error(
        "Cannot process command because of one or more missing mandatory parameters: "
        f"{' '.join(missing)}.",
        "MissingMandatoryParameter",
        info.name,
    )


def bind_pipeline_item(info: CommandInfo, bound: Bound, item: Any) -> dict[str, Any]:
    """The parameters for one pipeline input object (ByValue first, then ByPropertyName)."""
    params = dict(bound.params)
    for param in bound.pipeline_params:
        if param.pipeline_value and not (
            param.pipeline_property
            and isinstance(item, PSObject)
            and _property(item, param) is not None
        ):
            params[param.name] = convert_value(info, param, item)
            return params
    taken = False
    for param in bound.pipeline_params:
        if param.pipeline_property and isinstance(item, PSObject | Hashtable):
            value = _property(item, param)
            if value is not None:
                params[param.name] = convert_value(info, param, value)
                taken = True
    if not taken:
        raise binding_error(
            "The input object cannot be bound to any parameters for the command either because "
            "the command does not take pipeline input or the input and its properties do not "
            "match any of the parameters that take pipeline input.",
            "InputObjectNotBound",
            info.name,
        )
    return params


def _property(item: Any, param: ParamInfo) -> Any:
    props = item.properties if isinstance(item, PSObject) else item
    for name in [param.name, *param.aliases]:
        if name in props:
            return props[name]
    return None
