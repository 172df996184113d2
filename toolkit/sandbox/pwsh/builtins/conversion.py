"""Objects to and from text: ConvertTo-/ConvertFrom-Json and -Csv, Out-String."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from toolkit.sandbox.pwsh.builtins.pipeline import property_names
from toolkit.sandbox.pwsh.builtins.registry import input_objects, native, parameter
from toolkit.sandbox.pwsh.coercion import to_string
from toolkit.sandbox.pwsh.commands import CallPrefs
from toolkit.sandbox.pwsh.errors import PSError, record, runtime_error
from toolkit.sandbox.pwsh.members import get_member
from toolkit.sandbox.pwsh.runtime import Context
from toolkit.sandbox.values import ErrorRecord, Hashtable, PSObject, SecureString


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
    parameter("InputObject", "Object", 0, pipeline=True),
    parameter("Depth", "Int32"),
    parameter("Compress", switch=True),
    parameter("AsArray", switch=True),
    parameter("EnumsAsStrings", switch=True),
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
    parameter("InputObject", "String", 0, pipeline=True),
    parameter("AsHashtable", switch=True),
    parameter("Depth", "Int32"),
    parameter("NoEnumerate", switch=True),
)
def convert_from_json(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    text = (
        "\n".join(to_string(v) for v in input_objects(params, items))
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


@native("Out-String", (), parameter("InputObject", pipeline=True), parameter("Stream", switch=True))
def out_string(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    lines = [to_string(v) for v in input_objects(params, items)]
    if params.get("Stream"):
        yield from lines
    else:
        yield "\n".join(lines) + "\n"


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
    parameter("InputObject", "Object", 0, pipeline=True),
    parameter("Delimiter", "Char", 1),
    parameter("NoTypeInformation", switch=True),
    parameter("UseQuotes", "String"),
    parameter("NoHeader", switch=True),
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
    for item in input_objects(params, items):
        if names is None:
            if isinstance(item, Hashtable):
                names = [to_string(k) for k in item]
            else:
                names = property_names(item)
            if not params.get("NoHeader"):
                yield delimiter.join(_csv_field(n, delimiter, quote) for n in names)
        yield delimiter.join(_csv_field(get_member(item, name), delimiter, quote) for name in names)


@native(
    "ConvertFrom-Csv",
    (),
    parameter("InputObject", "String[]", 0, pipeline=True),
    parameter("Delimiter", "Char", 1),
    parameter("Header", "String[]"),
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
