"""Native built-in cmdlets scripts commonly use (not from cmdlets.json).

Each receives the whole input stream (``items`` is None when the command is first in its
pipeline), so ``Sort-Object`` can collect and ``Select-Object -First`` can stop early.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from toolkit.sandbox.pwsh import binder, operators
from toolkit.sandbox.pwsh.coercion import (
    lookup_type,
    to_array,
    to_bool,
    to_int,
    to_number,
    to_string,
    type_name_of,
)
from toolkit.sandbox.pwsh.commands import CallPrefs, run_block_items
from toolkit.sandbox.pwsh.errors import PSError, record, runtime_error
from toolkit.sandbox.pwsh.formatting import format_date
from toolkit.sandbox.pwsh.members import (
    EXCEPTION_TYPES,
    ExceptionInfo,
    get_member,
    new_exception,
    table_key,
)
from toolkit.sandbox.pwsh.operator_table import BINARY
from toolkit.sandbox.pwsh.runtime import Context, ScriptBlock, collapse
from toolkit.sandbox.values import (
    PSCUSTOMOBJECT_TYPES,
    ErrorRecord,
    Hashtable,
    InformationRecord,
    PSObject,
    SecureString,
)

Run = Callable[[Context, CallPrefs, dict[str, Any], Iterator[Any] | None], Iterator[Any]]


@dataclass
class NativeCommand:
    info: binder.CommandInfo
    run: Run

    def invoke(
        self,
        ctx: Context,
        args: list[tuple[str | None, Any]],
        items: Iterator[Any] | None,
        line: int,
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


def _param(
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
        binder.converter_for("SwitchParameter" if switch else type_name)
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
        binder.add_common(plist)
        command = NativeCommand(binder.CommandInfo(name, plist, [binder.ALL_SETS], None), run)
        for key in (name, *aliases):
            _BUILTINS[key.casefold()] = command
        return run

    return register


def _input(
    params: dict[str, Any], items: Iterator[Any] | None, key: str = "InputObject"
) -> Iterator[Any]:
    """Pipeline input, or the -InputObject argument as one object (not enumerated, as
    PowerShell documents for ForEach-Object, Where-Object, Sort-Object, ...)."""
    if items is not None:
        return items
    if key in params:
        return iter([params[key]])
    return iter(())


def _block(ctx: Context, block: Any, item: Any) -> list[Any]:
    return run_block_items(ctx, block, [], dollar_under=item, new_scope=False)


# ---- pipeline shaping ------------------------------------------------------------------


@native(
    "ForEach-Object",
    ("%", "foreach"),
    _param("Process", "Object", 0),
    _param("Begin"),
    _param("End"),
    _param("MemberName"),
    _param("InputObject", pipeline=True),
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
    source = _input(params, items) if items is not None or "InputObject" in params else [None]
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
    _param("FilterScript", "Object", 0, aliases=("Property",)),
    _param("Value", "Object", 1),
    _param("InputObject", pipeline=True),
    *[_param(op, switch=True) for op in _WHERE_OPERATORS],
)
def where_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    test = params.get("FilterScript")
    chosen = [op for op in _WHERE_OPERATORS if params.get(op)]
    for item in _input(params, items):
        ctx.check_stop()
        if isinstance(test, ScriptBlock):
            if to_bool(collapse(_block(ctx, test, item))):
                yield item
            continue
        value = get_member(item, to_string(test))
        if not chosen:
            if to_bool(value):
                yield item
            continue
        op = "-" + chosen[0].casefold()
        if op in ("-match", "-notmatch", "-cmatch"):
            found = operators.match(value, params.get("Value"), op == "-cmatch") is not None
            if found != (op == "-notmatch"):
                yield item
        elif to_bool(BINARY[op](value, params.get("Value"))):
            yield item


def _property_names(obj: Any) -> list[str]:
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
    _param("Property", "Object", 0),
    _param("ExpandProperty", "String"),
    _param("ExcludeProperty", "String[]"),
    _param("First", "Int32"),
    _param("Last", "Int32"),
    _param("Skip", "Int32"),
    _param("Index", "Int32[]"),
    _param("Unique", switch=True),
    _param("InputObject", pipeline=True),
)
def select_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    source = _input(params, items)
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
                for name in _property_names(item):
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
    _param("Property", "Object", 0),
    _param("Descending", switch=True),
    _param("Unique", switch=True),
    _param("CaseSensitive", switch=True),
    _param("InputObject", pipeline=True),
)
def sort_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    values = list(_input(params, items))
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
    _param("Property", "Object", 0),
    _param("NoElement", switch=True),
    _param("AsHashTable", switch=True),
    _param("AsString", switch=True),
    _param("CaseSensitive", switch=True),
    _param("InputObject", pipeline=True),
)
def group_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    keys = _sort_keys(ctx, params.get("Property"))
    groups: dict[str, tuple[list[Any], list[Any]]] = {}
    for item in _input(params, items):
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
    _param("Property", "String[]", 0),
    _param("Sum", switch=True),
    _param("Average", switch=True),
    _param("Maximum", switch=True),
    _param("Minimum", switch=True),
    _param("InputObject", pipeline=True),
)
def measure_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    values = list(_input(params, items))
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


# ---- streams ---------------------------------------------------------------------------


@native(
    "Write-Output",
    ("echo", "write"),
    _param("InputObject", "Object", 0, pipeline=True),
    _param("NoEnumerate", switch=True),
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
    _param("Message", "String", 0, aliases=("Msg",)),
    _param("ErrorRecord"),
    _param("Exception"),
    _param("Category", "ErrorCategory"),
    _param("ErrorId", "String"),
    _param("TargetObject"),
    _param("CategoryReason", "String"),
    _param("RecommendedAction", "String"),
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


@native("Write-Warning", (), _param("Message", "String", 0, pipeline=True, aliases=("Msg",)))
def write_warning(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for message in _input(params, items, "Message"):
        prefs.warning(to_string(message))
    return iter(())


@native("Write-Verbose", (), _param("Message", "String", 0, pipeline=True, aliases=("Msg",)))
def write_verbose(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for message in _input(params, items, "Message"):
        prefs.verbose_message(to_string(message))
    return iter(())


@native("Write-Debug", (), _param("Message", "String", 0, pipeline=True, aliases=("Msg",)))
def write_debug(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    preference = to_string(ctx.get("debugpreference") or "SilentlyContinue").casefold()
    for message in _input(params, items, "Message"):
        if preference == "continue":
            ctx.sink.debug(to_string(message))
    return iter(())


@native(
    "Write-Information",
    (),
    _param("MessageData", "Object", 0, aliases=("Msg", "Message")),
    _param("Tags", "String[]", 1),
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
    _param("Object", "Object", 0),
    _param("NoNewline", switch=True),
    _param("Separator"),
    _param("ForegroundColor", "String"),
    _param("BackgroundColor", "String"),
)
def write_host(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    ctx.sink.information(InformationRecord(to_string(params.get("Object")), tags=["PSHOST"]))
    return iter(())


@native(
    "Write-Progress",
    (),
    _param("Activity", "String", 0),
    _param("Status", "String", 1),
    _param("Id", "Int32"),
    _param("PercentComplete", "Int32"),
    _param("SecondsRemaining", "Int32"),
    _param("CurrentOperation", "String"),
    _param("ParentId", "Int32"),
    _param("Completed", switch=True),
)
def write_progress(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    percent = -1 if params.get("PercentComplete") is None else params["PercentComplete"]
    if params.get("Completed"):
        percent = 100
    ctx.sink.progress(params.get("Activity") or "", params.get("Status") or "Processing", percent)
    return iter(())


@native("Out-Null", (), _param("InputObject", pipeline=True))
def out_null(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for _ in _input(params, items):
        pass
    return iter(())


# ---- JSON ------------------------------------------------------------------------------


def _json_date(value: dt.datetime) -> str:
    """DateTime as PowerShell 7's ConvertTo-Json writes it (7 fraction digits, Z for UTC)."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}0"
    offset = value.utcoffset()
    if offset is None:
        return text
    if offset == dt.timedelta(0):
        return text + "Z"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _json_ready(value: Any, depth: int, limit: int) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return _json_date(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode("ascii")
    if isinstance(value, SecureString):
        value = PSObject([("Length", len(value.reveal()))])
    if depth > limit:
        return to_string(value)
    if isinstance(value, list | tuple):
        return [_json_ready(v, depth + 1, limit) for v in value]
    if isinstance(value, Hashtable):
        return {to_string(k): _json_ready(v, depth + 1, limit) for k, v in value.items()}
    if isinstance(value, PSObject):
        return {k: _json_ready(v, depth + 1, limit) for k, v in value.properties.items()}
    if isinstance(value, ErrorRecord):
        return {
            "Exception": {"Message": value.message},
            "FullyQualifiedErrorId": value.fully_qualified_error_id,
        }
    return to_string(value)


@native(
    "ConvertTo-Json",
    (),
    _param("InputObject", "Object", 0, pipeline=True),
    _param("Depth", "Int32"),
    _param("Compress", switch=True),
    _param("AsArray", switch=True),
    _param("EnumsAsStrings", switch=True),
)
def convert_to_json(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    limit = params.get("Depth", 2)
    if items is not None:
        collected = list(items)
        value: Any = (
            collected[0] if len(collected) == 1 and not params.get("AsArray") else collected
        )
    else:
        value = params.get("InputObject")
        if params.get("AsArray") and not isinstance(value, list | tuple):
            value = [value]
    ready = _json_ready(value, 0, limit)
    if params.get("Compress"):
        yield json.dumps(ready, ensure_ascii=False, separators=(",", ":"))
    else:
        yield json.dumps(ready, ensure_ascii=False, indent=2)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def _from_json(value: Any, as_hashtable: bool) -> Any:
    """JSON to objects; ISO 8601 strings become DateTime as in PowerShell 7."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, dict):
        pairs = [(k, _from_json(v, as_hashtable)) for k, v in value.items()]
        return Hashtable(pairs) if as_hashtable else PSObject(pairs)
    if isinstance(value, list):
        return [_from_json(v, as_hashtable) for v in value]
    return value


@native(
    "ConvertFrom-Json",
    (),
    _param("InputObject", "String", 0, pipeline=True),
    _param("AsHashtable", switch=True),
    _param("Depth", "Int32"),
    _param("NoEnumerate", switch=True),
)
def convert_from_json(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    text = (
        "\n".join(to_string(v) for v in _input(params, items))
        if items is not None
        else to_string(params.get("InputObject"))
    )
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PSError(
            record(
                f"Conversion from JSON failed with error: {exc.msg}",
                "System.ArgumentException,Microsoft.PowerShell.Commands.ConvertFromJsonCommand",
                category="NotSpecified",
                exception_type="System.ArgumentException",
            )
        ) from None
    result = _from_json(parsed, bool(params.get("AsHashtable")))
    if isinstance(result, list) and not params.get("NoEnumerate"):
        yield from result
    else:
        yield result


# ---- misc ------------------------------------------------------------------------------


@native(
    "Get-Date",
    (),
    _param("Date", "DateTime", 0),
    _param("Format", "String"),
    _param("UFormat", "String"),
    _param("AsUTC", switch=True),
    _param("Year", "Int32"),
    _param("Month", "Int32"),
    _param("Day", "Int32"),
    _param("Hour", "Int32"),
    _param("Minute", "Int32"),
    _param("Second", "Int32"),
)
def get_date(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    value = params.get("Date") or dt.datetime.now()
    changes = {
        k.lower(): params[k]
        for k in ("Year", "Month", "Day", "Hour", "Minute", "Second")
        if k in params
    }
    if changes:
        value = value.replace(**changes)
    if params.get("AsUTC"):
        value = value.astimezone(dt.UTC)
    if params.get("UFormat"):
        yield value.strftime(params["UFormat"])
    elif params.get("Format"):
        yield format_date(value, params["Format"])
    else:
        yield value


@native(
    "New-TimeSpan",
    (),
    _param("Start", "DateTime", 0),
    _param("End", "DateTime", 1),
    _param("Days", "Int32"),
    _param("Hours", "Int32"),
    _param("Minutes", "Int32"),
    _param("Seconds", "Int32"),
)
def new_timespan(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    if "Start" in params or "End" in params:
        start = params.get("Start") or dt.datetime.now()
        end = params.get("End") or dt.datetime.now()
        yield end.replace(tzinfo=None) - start.replace(tzinfo=None)
        return
    yield dt.timedelta(
        days=params.get("Days", 0),
        hours=params.get("Hours", 0),
        minutes=params.get("Minutes", 0),
        seconds=params.get("Seconds", 0),
    )


@native(
    "Set-StrictMode",
    (),
    _param("Version", "String", 0, aliases=("v",)),
    _param("Off", switch=True),
)
def set_strict_mode(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    """Version 1: reading an unset variable fails; 2 and later: also a missing property."""
    if params.get("Off"):
        ctx.scope.strict = 0
        return iter(())
    version = to_string(params.get("Version") or "")
    if version.casefold() == "latest":
        ctx.scope.strict = 3
    else:
        try:
            ctx.scope.strict = int(float(version))
        except ValueError:
            raise runtime_error(
                f"Cannot validate argument on parameter 'Version'. The \"{version}\" argument "
                "is not a valid version.",
                "ParameterArgumentValidationError,Microsoft.PowerShell.Commands.SetStrictModeCommand",
                category="InvalidData",
            ) from None
    return iter(())


@native("Start-Sleep", ("sleep",), _param("Seconds", "Double", 0), _param("Milliseconds", "Int32"))
def start_sleep(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    seconds = float(params.get("Seconds") or 0) + (params.get("Milliseconds") or 0) / 1000
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if ctx.stop.wait(min(remaining, 0.1)):
            ctx.check_stop()
    return iter(())


@native(
    "ConvertTo-SecureString",
    (),
    _param("String", "String", 0, pipeline=True),
    _param("AsPlainText", switch=True),
    _param("Force", switch=True),
    _param("Key", "Byte[]"),
)
def convert_to_securestring(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    if not params.get("AsPlainText"):
        raise runtime_error(
            "The sandbox engine supports ConvertTo-SecureString only with -AsPlainText -Force.",
            "UnsupportedSecureStringForm",
            exception_type="System.NotSupportedException",
        )
    for value in _input(params, items, "String"):
        yield SecureString(to_string(value))


def _credential(args: list[Any]) -> PSObject:
    if len(args) != 2 or not isinstance(args[1], SecureString):
        raise runtime_error(
            f'Cannot find an overload for "PSCredential" and the argument count: "{len(args)}".',
            "ConstructorInvokedThrowException",
        )
    return PSObject(
        [("UserName", to_string(args[0])), ("Password", args[1])],
        type_names=("System.Management.Automation.PSCredential", "System.Object"),
    )


@native(
    "New-Object",
    (),
    _param("TypeName", "String", 0),
    _param("ArgumentList", "Object", 1, aliases=("Args",)),
    _param("Property", "Hashtable"),
)
def new_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    type_name = to_string(params.get("TypeName"))
    key = type_name.casefold().removeprefix("system.")
    raw_args = params.get("ArgumentList")
    args = (
        list(raw_args)
        if isinstance(raw_args, list | tuple)
        else ([] if raw_args is None else [raw_args])
    )
    if key in (
        "psobject",
        "management.automation.psobject",
        "object",
        "management.automation.pscustomobject",
    ):
        yield PSObject((params.get("Property") or Hashtable()).items())
        return
    if key in ("management.automation.pscredential", "pscredential"):
        yield _credential(args)
        return
    found = lookup_type(type_name)
    if found and found[0] in ("System.Collections.ArrayList", "System.Collections.Generic.List"):
        yield found[1](args[0] if args and isinstance(args[0], list | tuple) else [])
        return
    if key in EXCEPTION_TYPES:
        yield new_exception(key, args)
        return
    if found and found[0] == "System.Collections.Hashtable":
        yield Hashtable()
        return
    if key == "guid" and args:
        yield uuid.UUID(to_string(args[0]))
        return
    if key == "datetime" and args:
        parts = [to_int(a) for a in args] + [0] * 6
        yield dt.datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
        return
    raise runtime_error(
        f"Cannot find type [{type_name}]: verify that the assembly containing this type is loaded.",
        "TypeNotFound,Microsoft.PowerShell.Commands.NewObjectCommand",
        category="InvalidType",
        exception_type="System.Management.Automation.PSArgumentException",
    )


@native(
    "Get-Random",
    (),
    _param("Maximum", "Object", 0),
    _param("Minimum", "Object"),
    _param("InputObject", "Object", pipeline=True),
    _param("Count", "Int32"),
)
def get_random(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    count = params.get("Count", 1)
    if count < 1:
        raise runtime_error(
            f"Cannot validate argument on parameter 'Count'. The {count} argument is less than "
            "the minimum allowed range of 1. Supply an argument that is greater than or equal "
            "to 1 and then try the command again.",
            "ParameterArgumentValidationError,Microsoft.PowerShell.Commands.GetRandomCommand",
            category="InvalidData",
        )
    if items is not None or "InputObject" in params:
        pool = list(items) if items is not None else to_array(params["InputObject"])
        yield from random.sample(pool, min(count, len(pool)))
        return
    low = to_int(params.get("Minimum") or 0)
    high = to_int(params["Maximum"]) if "Maximum" in params else 2**31 - 1
    if low >= high:
        raise runtime_error(
            f"The Minimum value ({low}) cannot be greater than or equal to the Maximum value "
            f"({high}).",
            "MinGreaterThanOrEqualMax,Microsoft.PowerShell.Commands.GetRandomCommand",
            category="InvalidArgument",
        )
    yield random.randrange(low, high)


@native("Out-String", (), _param("InputObject", pipeline=True), _param("Stream", switch=True))
def out_string(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    lines = [to_string(v) for v in _input(params, items)]
    if params.get("Stream"):
        yield from lines
    else:
        yield "\n".join(lines) + "\n"


@native(
    "Add-Member",
    (),
    _param("InputObject", pipeline=True),
    _param("MemberType", "String", 0, aliases=("Type",)),
    _param("Name", "String", 1),
    _param("Value", "Object", 2),
    _param("NotePropertyName", "String"),
    _param("NotePropertyValue"),
    _param("NotePropertyMembers", "Hashtable"),
    _param("PassThru", switch=True),
    _param("Force", switch=True),
)
def add_member(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    kind = to_string(params.get("MemberType") or "NoteProperty").casefold()
    if kind not in ("noteproperty",):
        raise runtime_error(
            f"The sandbox engine supports only NoteProperty members, not {kind}.",
            "UnsupportedMemberType",
            exception_type="System.NotSupportedException",
        )
    members: list[tuple[str, Any]] = []
    if params.get("NotePropertyMembers") is not None:
        members.extend(params["NotePropertyMembers"].items())
    if params.get("NotePropertyName") is not None:
        members.append((params["NotePropertyName"], params.get("NotePropertyValue")))
    if params.get("Name") is not None:
        members.append((params["Name"], params.get("Value")))
    for target in _input(params, items):
        if not isinstance(target, PSObject):
            raise runtime_error(
                "The sandbox engine adds members only to PSObjects.",
                "UnsupportedAddMemberTarget",
                exception_type="System.NotSupportedException",
            )
        for name, value in members:
            if name in target.properties and not params.get("Force"):
                prefs.error(
                    record(
                        f'Cannot add a member with the name "{name}" because a member with '
                        "that name already exists. To overwrite the member anyway, add the "
                        "Force parameter to your command.",
                        "MemberAlreadyExists,Microsoft.PowerShell.Commands.AddMemberCommand",
                        category="InvalidOperation",
                        target=target,
                    )
                )
                continue
            target.properties[name] = value
        if params.get("PassThru"):
            yield target


# Modules whose cmdlets the sandbox emulates (cmdlets.json) or that ship with PowerShell.
_MODULES = (
    "ExchangeOnlineManagement",
    "Microsoft.Graph",
    "Microsoft.Graph.*",
    "Microsoft.PowerShell.*",
)


@native(
    "Import-Module",
    ("ipmo",),
    _param("Name", "String[]", 0),
    _param("MinimumVersion", "String"),
    _param("RequiredVersion", "String"),
    _param("Force", switch=True),
    _param("DisableNameChecking", switch=True),
    _param("Global", switch=True),
    _param("Prefix", "String"),
)
def import_module(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for name in params.get("Name") or []:
        if not any(operators.like(name, pattern) for pattern in _MODULES):
            prefs.error(
                record(
                    f"The specified module '{name}' was not loaded because no valid module "
                    "file was found in any module directory.",
                    "Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand",
                    category="ResourceUnavailable",
                    exception_type="System.IO.FileNotFoundException",
                    target=name,
                )
            )
    return iter(())


@native("Get-Command", ("gcm",), _param("Name", "String[]", 0), _param("Module", "String[]"))
def get_command(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for name in params.get("Name") or []:
        function = ctx.scope.find_function(name.casefold())
        command = ctx.runspace.resolve_command(name)
        if function is not None:
            yield _command_info(function.name, "Function", "")
        elif command is not None:
            yield _command_info(command.name, "Cmdlet", command.source)
        else:
            prefs.error(
                record(
                    f"The term '{name}' is not recognized as a name of a cmdlet, function, "
                    "script file, or executable program. Check the spelling of the name, or "
                    "if a path was included, verify that the path is correct and try again.",
                    "CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand",
                    category="ObjectNotFound",
                    exception_type="System.Management.Automation.CommandNotFoundException",
                    target=name,
                )
            )


def _command_info(name: str, kind: str, source: str) -> PSObject:
    return PSObject(
        [("Name", name), ("CommandType", kind), ("Source", source), ("ModuleName", source)],
        type_names=("System.Management.Automation.CommandInfo", "System.Object"),
        to_string=name,
    )


def _csv_field(value: Any, delimiter: str, quote: str) -> str:
    text = to_string(value)
    if quote == "never" or (
        quote == "asneeded" and not any(c in text for c in (delimiter, '"', "\n", "\r"))
    ):
        return text
    return '"' + text.replace('"', '""') + '"'


@native(
    "ConvertTo-Csv",
    (),
    _param("InputObject", "Object", 0, pipeline=True),
    _param("Delimiter", "Char", 1),
    _param("NoTypeInformation", switch=True),
    _param("UseQuotes", "String"),
    _param("NoHeader", switch=True),
)
def convert_to_csv(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    """PowerShell 7's ConvertTo-Csv: the first object's properties make the header, every
    field quoted (``-UseQuotes AsNeeded``/``Never`` relax that)."""
    delimiter = params.get("Delimiter") or ","
    quote = to_string(params.get("UseQuotes") or "Always").casefold()
    if quote not in ("always", "asneeded", "never"):
        raise runtime_error(
            f"Cannot bind parameter 'UseQuotes'. Cannot convert value \"{quote}\" to type "
            '"Microsoft.PowerShell.Commands.BaseCsvWritingCommand+QuoteKind".',
            "CannotConvertArgumentNoMessage,Microsoft.PowerShell.Commands.ConvertToCsvCommand",
            category="InvalidArgument",
        )
    names: list[str] | None = None
    for item in _input(params, items):
        if names is None:
            if isinstance(item, Hashtable):
                names = [to_string(k) for k in item]
            else:
                names = _property_names(item)
            if not params.get("NoHeader"):
                yield delimiter.join(_csv_field(n, delimiter, quote) for n in names)
        yield delimiter.join(_csv_field(get_member(item, name), delimiter, quote) for name in names)


@native(
    "ConvertFrom-Csv",
    (),
    _param("InputObject", "String[]", 0, pipeline=True),
    _param("Delimiter", "Char", 1),
    _param("Header", "String[]"),
)
def convert_from_csv(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    lines: list[str] = []
    source = items if items is not None else iter(params.get("InputObject") or [])
    for chunk in source:
        lines.extend(to_string(chunk).splitlines())
    reader = csv.reader(lines, delimiter=params.get("Delimiter") or ",")
    header = params.get("Header")
    for row in reader:
        if not row:
            continue
        if header is None:
            header = row
            continue
        values = row + [None] * (len(header) - len(row))
        yield PSObject(zip(header, values, strict=False))


# ---- modules ---------------------------------------------------------------------------


@native(
    "Get-Module",
    ("gmo",),
    _param("Name", "String[]", 0),
    _param("ListAvailable", switch=True),
)
def get_module(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    """The host's installed modules (``-ListAvailable``), by name or wildcard."""
    import fnmatch

    if not params.get("ListAvailable"):
        raise runtime_error(
            "The sandbox lists installed modules only: use Get-Module -ListAvailable.",
            "NotSupported")
    patterns = [str(n).casefold() for n in params.get("Name") or ["*"]]
    for name, version in sorted(ctx.runspace.modules.items()):
        if any(fnmatch.fnmatchcase(name.casefold(), p) for p in patterns):
            yield PSObject(
                [("Name", name), ("Version", version), ("ModuleType", "Script"),
                 ("Path", f"C:\\Program Files\\PowerShell\\Modules\\{name}\\{version}\\"
                          f"{name}.psd1")],
                type_names=("System.Management.Automation.PSModuleInfo", "System.Object"),
            )
