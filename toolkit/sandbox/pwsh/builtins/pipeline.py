"""Pipeline shaping: ForEach-Object, Where-Object, Select-, Sort-, Group-, Measure-Object."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from toolkit.sandbox.pwsh import operators
from toolkit.sandbox.pwsh.builtins.registry import input_objects, native, parameter
from toolkit.sandbox.pwsh.coercion import to_bool, to_number, to_string, type_name_of
from toolkit.sandbox.pwsh.commands import CallPrefs, run_block_items
from toolkit.sandbox.pwsh.errors import PSError, record, runtime_error
from toolkit.sandbox.pwsh.members import get_member, table_key
from toolkit.sandbox.pwsh.operator_table import BINARY
from toolkit.sandbox.pwsh.runtime import Context, ScriptBlock, collapse
from toolkit.sandbox.values import PSCUSTOMOBJECT_TYPES, Hashtable, PSObject


def _block(ctx: Context, block: Any, item: Any) -> list[Any]:
    return run_block_items(ctx, block, [], dollar_under=item, new_scope=False)


@native(
    "ForEach-Object",
    ("%", "foreach"),
    parameter("Process", "Object", 0),
    parameter("Begin"),
    parameter("End"),
    parameter("MemberName"),
    parameter("InputObject", pipeline=True),
)
def foreach_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    process = params.get("Process")
    member = params.get("MemberName")
    if isinstance(process, str):
        member, process = process, None
    blocks = process if isinstance(process, list | tuple) else [process] if process else []
    if params.get("Begin") is not None:
        yield from _block(ctx, params["Begin"], None)
    # With no input at all the process block still runs once, with $_ = $null.
    given = items is not None or "InputObject" in params
    source = input_objects(params, items) if given else [None]
    for item in source:
        ctx.check_stop()
        if member is not None:
            value = get_member(item, to_string(member))
            yield from value if isinstance(value, list | tuple) else [value]
            continue
        for block in blocks:
            yield from _block(ctx, block, item)
    if params.get("End") is not None:
        yield from _block(ctx, params["End"], None)


_WHERE_OPERATORS = (
    "EQ",
    "NE",
    "GT",
    "GE",
    "LT",
    "LE",
    "Like",
    "NotLike",
    "Match",
    "NotMatch",
    "Contains",
    "NotContains",
    "In",
    "NotIn",
    "CEQ",
    "CNE",
    "CLike",
    "CMatch",
)


@native(
    "Where-Object",
    ("?", "where"),
    parameter("FilterScript", "Object", 0, aliases=("Property",)),
    parameter("Value", "Object", 1),
    parameter("InputObject", pipeline=True),
    *[parameter(op, switch=True) for op in _WHERE_OPERATORS],
)
def where_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    test = params.get("FilterScript")
    chosen = [op for op in _WHERE_OPERATORS if params.get(op)]
    passes = _where_comparison(chosen, params.get("Value"))
    name: str | None = None  # the property compared, converted at the first item
    for item in input_objects(params, items):
        ctx.check_stop()
        if isinstance(test, ScriptBlock):
            if to_bool(collapse(_block(ctx, test, item))):
                yield item
            continue
        if name is None:
            name = to_string(test)
        if passes(get_member(item, name)):
            yield item


def _where_comparison(chosen: list[str], operand: Any) -> Callable[[Any], bool]:
    """The test of ``Where-Object Property -Op Value`` (or of ``Where-Object Property``
    alone), chosen once per call rather than per input object."""
    if not chosen:
        return to_bool
    op = "-" + chosen[0].casefold()
    if op in ("-match", "-notmatch", "-cmatch"):
        case_sensitive, negated = op == "-cmatch", op == "-notmatch"
        return lambda value: (
            operators.match(value, operand, case_sensitive) is not None) != negated
    compare = BINARY[op]
    return lambda value: to_bool(compare(value, operand))


def property_names(obj: Any) -> list[str]:
    if isinstance(obj, PSObject):
        return list(obj.properties.keys())
    if isinstance(obj, Hashtable):
        return ["Count", "Keys", "Values", "IsReadOnly", "IsFixedSize", "IsSynchronized"]
    return []


def _calculated_keys(spec: Hashtable) -> dict[str, Any]:
    """Name/Label/Expression/Descending/Ascending of a calculated property; keys may be
    abbreviated to any unambiguous prefix (``n``, ``e``, ``Exp``), as PowerShell allows."""
    found: dict[str, Any] = {}
    for key, value in spec.items():
        word = to_string(key).casefold()
        matches = [
            k
            for k in ("name", "label", "expression", "descending", "ascending")
            if k.startswith(word)
        ]
        if len(matches) != 1:
            raise runtime_error(
                f'The "{key}" key is not valid in a calculated property (use Name, '
                "Expression, Descending or Ascending).",
                "IllegalKey",
                category="InvalidArgument",
            )
        found["name" if matches[0] == "label" else matches[0]] = value
    return found


def _calculated(ctx: Context, spec: Any) -> tuple[str, Callable[[Any], Any]]:
    if isinstance(spec, Hashtable):
        keys = _calculated_keys(spec)
        name = to_string(keys["name"]) if "name" in keys else None
        expression = keys.get("expression")
        if expression is None:
            raise runtime_error(
                "The Expression key is missing from a calculated property.",
                "DictionaryKeyMissing,Microsoft.PowerShell.Commands.SelectObjectCommand",
            )
        if isinstance(expression, ScriptBlock):
            block = expression

            def from_block(item: Any) -> Any:
                return collapse(_block(ctx, block, item))

            return name or block.text.strip(), from_block
        key = to_string(expression)
        return name or key, lambda item: get_member(item, key)
    key = to_string(spec)
    return key, lambda item: get_member(item, key)


@native(
    "Select-Object",
    ("select",),
    parameter("Property", "Object", 0),
    parameter("ExpandProperty", "String"),
    parameter("ExcludeProperty", "String[]"),
    parameter("First", "Int32"),
    parameter("Last", "Int32"),
    parameter("Skip", "Int32"),
    parameter("Index", "Int32[]"),
    parameter("Unique", switch=True),
    parameter("InputObject", pipeline=True),
)
def select_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    source = input_objects(params, items)
    properties = params.get("Property")
    specs = (
        properties
        if isinstance(properties, list | tuple)
        else ([properties] if properties is not None else [])
    )
    expand = params.get("ExpandProperty")
    exclude = [e.casefold() for e in params.get("ExcludeProperty") or []]
    first, last, skip = params.get("First"), params.get("Last"), params.get("Skip") or 0
    index = params.get("Index")
    seen: list[Any] = []

    def shape(item: Any) -> Iterator[Any]:
        if expand is not None:
            value = get_member(item, expand)
            if value is None and not (isinstance(item, PSObject) and expand in item.properties):
                raise PSError(
                    record(
                        f'Property "{expand}" cannot be found.',
                        "ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand",
                        category="InvalidArgument",
                        target=item,
                    )
                )
            yield from value if isinstance(value, list | tuple) else [value]
            return
        if not specs:
            yield item
            return
        props: list[tuple[str, Any]] = []
        for spec in specs:
            if isinstance(spec, str) and ("*" in spec or "?" in spec):
                for name in property_names(item):
                    if operators.like(name, spec) and name.casefold() not in exclude:
                        props.append((name, get_member(item, name)))
                continue
            name, getter = _calculated(ctx, spec)
            if name.casefold() not in exclude:
                props.append((name, getter(item)))
        original = (
            item.type_names[0]
            if isinstance(item, PSObject) and item.type_names
            else type_name_of(item)
        )
        yield PSObject(props, type_names=(f"Selected.{original}", *PSCUSTOMOBJECT_TYPES))

    produced = 0
    collected: list[Any] = []
    if first == 0 and last is None:
        return
    for position, item in enumerate(source):
        ctx.check_stop()
        if position < skip:
            continue
        if index is not None and position not in index:
            continue
        for value in shape(item):
            if params.get("Unique"):
                if any(operators.equals(value, s) for s in seen):
                    continue
                seen.append(value)
            if last is not None:
                collected.append(value)
                continue
            yield value
            produced += 1
            if first is not None and produced >= first:
                return
        if first is not None and produced >= first:
            return
    if last is not None:
        yield from collected[-last:] if last else []


def _block_key(ctx: Context, block: ScriptBlock) -> Callable[[Any], Any]:
    def key(value: Any) -> Any:
        return collapse(_block(ctx, block, value))

    return key


def _sort_keys(ctx: Context, spec: Any) -> list[tuple[Callable[[Any], Any], bool]]:
    specs = spec if isinstance(spec, list | tuple) else ([spec] if spec is not None else [])
    keys: list[tuple[Callable[[Any], Any], bool]] = []
    for item in specs:
        descending = False
        if isinstance(item, Hashtable):
            given = _calculated_keys(item)
            descending = to_bool(given.get("descending", False))
            if "ascending" in given:
                descending = not to_bool(given["ascending"])
        if isinstance(item, ScriptBlock):
            block = item
            keys.append((_block_key(ctx, block), descending))
        else:
            _, getter = _calculated(ctx, item)
            keys.append((getter, descending))
    if not keys:
        keys.append(((lambda v: v), False))
    return keys


@native(
    "Sort-Object",
    ("sort",),
    parameter("Property", "Object", 0),
    parameter("Descending", switch=True),
    parameter("Unique", switch=True),
    parameter("CaseSensitive", switch=True),
    parameter("InputObject", pipeline=True),
)
def sort_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    values = list(input_objects(params, items))
    keys = _sort_keys(ctx, params.get("Property"))
    descending = bool(params.get("Descending"))
    case_sensitive = bool(params.get("CaseSensitive"))
    decorated = [([getter(v) for getter, _ in keys], v) for v in values]

    def compare(a: tuple[list[Any], Any], b: tuple[list[Any], Any]) -> int:
        for (left, right), (_, key_desc) in zip(zip(a[0], b[0], strict=True), keys, strict=True):
            result = operators.compare(left, right, case_sensitive)
            if result:
                return -result if key_desc != descending else result
        return 0

    decorated.sort(key=functools.cmp_to_key(compare))
    previous: Any = object()
    for keys_values, value in decorated:
        if params.get("Unique"):
            if keys_values == previous:
                continue
            previous = keys_values
        yield value


@native(
    "Group-Object",
    ("group",),
    parameter("Property", "Object", 0),
    parameter("NoElement", switch=True),
    parameter("AsHashTable", switch=True),
    parameter("AsString", switch=True),
    parameter("CaseSensitive", switch=True),
    parameter("InputObject", pipeline=True),
)
def group_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    keys = _sort_keys(ctx, params.get("Property"))
    groups: dict[str, tuple[list[Any], list[Any]]] = {}
    for item in input_objects(params, items):
        values = [getter(item) for getter, _ in keys]
        name = ", ".join(to_string(v) for v in values)
        folded = name if params.get("CaseSensitive") else name.casefold()
        groups.setdefault(folded, (values, []))[1].append(item)
    if params.get("AsHashTable"):
        table = Hashtable()
        for values, members in groups.values():
            key = (
                ", ".join(to_string(v) for v in values)
                if params.get("AsString") or len(values) != 1
                else values[0]
            )
            table[table_key(key)] = members
        yield table
        return
    for values, members in groups.values():
        props: list[tuple[str, Any]] = [
            ("Count", len(members)),
            ("Name", ", ".join(to_string(v) for v in values)),
        ]
        if not params.get("NoElement"):
            props.append(("Group", members))
        props.append(("Values", values))
        yield PSObject(
            props, type_names=("Microsoft.PowerShell.Commands.GroupInfo", "System.Object")
        )


@native(
    "Measure-Object",
    ("measure",),
    parameter("Property", "String[]", 0),
    parameter("Sum", switch=True),
    parameter("Average", switch=True),
    parameter("Maximum", switch=True),
    parameter("Minimum", switch=True),
    parameter("InputObject", pipeline=True),
)
def measure_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    values = list(input_objects(params, items))
    names = params.get("Property") or [None]
    for name in names:
        column = [get_member(v, name) if name else v for v in values]
        wanted = any(params.get(k) for k in ("Sum", "Average", "Maximum", "Minimum"))
        numbers = [to_number(v) for v in column if v is not None] if wanted else []
        yield PSObject(
            [
                (
                    "Count",
                    len([v for v in column if v is not None]) if name or wanted else len(column),
                ),
                (
                    "Average",
                    (sum(numbers) / len(numbers)) if params.get("Average") and numbers else None,
                ),
                ("Sum", sum(numbers) if params.get("Sum") else None),
                ("Maximum", max(numbers) if params.get("Maximum") and numbers else None),
                ("Minimum", min(numbers) if params.get("Minimum") and numbers else None),
                ("Property", name),
            ],
            type_names=("Microsoft.PowerShell.Commands.GenericMeasureInfo", "System.Object"),
        )
