"""Methods called on values (``$s.Trim()``, ``$list.Add($x)``, ``$table.ContainsKey($k)``,
``$date.AddDays(1)``): :func:`call_method` dispatches by the value's type to the method
tables of strings, collections, hashtables and dates, and :func:`call_encoding` serves the
Encoding objects ``[Text.Encoding]::UTF8`` returns. Kept apart from :mod:`.members`, which
reads and sets properties and indexes, because each table is a long list of .NET methods
with their own failure texts.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

from toolkit.sandbox.pwsh.coercion import (
    ArrayList,
    GenericList,
    to_int,
    to_number,
    to_string,
    type_name_of,
)
from toolkit.sandbox.pwsh.errors import runtime_error
from toolkit.sandbox.pwsh.formatting import format_date, format_value
from toolkit.sandbox.pwsh.members import ExceptionInfo, TypeValue, table_key
from toolkit.sandbox.pwsh.operators import equals
from toolkit.sandbox.pwsh.runtime import VOID
from toolkit.sandbox.values import Hashtable, PSObject, SecureString


def _method_missing(value: Any, name: str) -> Exception:
    return runtime_error(
        f"Method invocation failed because [{type_name_of(value)}] does not contain a method "
        f"named '{name}'.",
        "MethodNotFound",
        target=value,
    )


def _invocation_error(name: str, args: list[Any], message: str) -> Exception:
    return runtime_error(
        f'Exception calling "{name}" with "{len(args)}" argument(s): "{message}"',
        "MethodInvocationException",
        category="NotSpecified",
        exception_type="System.Management.Automation.MethodInvocationException",
    )


def _split(text: str, args: list[Any]) -> list[str]:
    """``String.Split`` as PowerShell 7 resolves it: a string argument is one separator
    (the .NET Core ``Split(String)`` overload), an array is a set of separator characters;
    no argument splits on white space."""
    if not args:
        return re.split(r"\s", text)
    separators = args[0]
    if isinstance(separators, list | tuple):
        chars = "".join(to_string(s) for s in separators)
        return re.split("[" + re.escape(chars) + "]", text) if chars else [text]
    separator = to_string(separators)
    return text.split(separator) if separator else [text]


def _trim_chars(args: list[Any]) -> str | None:
    if not args:
        return None
    return "".join(to_string(a) for a in args)


def _string_method(value: str, key: str, name: str, args: list[Any]) -> Any:
    arg = [to_string(a) if not isinstance(a, int) else a for a in args]
    if key == "trim":
        return value.strip(_trim_chars(args))
    if key == "trimstart":
        return value.lstrip(_trim_chars(args))
    if key == "trimend":
        return value.rstrip(_trim_chars(args))
    if key in ("tolower", "tolowerinvariant"):
        return value.lower()
    if key in ("toupper", "toupperinvariant"):
        return value.upper()
    if key == "split":
        return _split(value, args)
    if key == "contains":
        return to_string(args[0]) in value
    if key == "startswith":
        return _case_op(value, args, str.startswith)
    if key == "endswith":
        return _case_op(value, args, str.endswith)
    if key == "indexof":
        return value.find(to_string(args[0]), *(int(a) for a in arg[1:2]))
    if key == "lastindexof":
        return value.rfind(to_string(args[0]))
    if key == "substring":
        start = to_int(args[0])
        if start > len(value):
            raise _invocation_error(
                name,
                args,
                "startIndex cannot be larger than length of string.\nParameter name: startIndex",
            )
        if len(args) > 1:
            length = to_int(args[1])
            if start + length > len(value):
                raise _invocation_error(
                    name,
                    args,
                    "Index and length must refer to a location "
                    "within the string.\nParameter name: length",
                )
            return value[start : start + length]
        return value[start:]
    if key == "replace":
        return value.replace(to_string(args[0]), to_string(args[1]))
    if key == "padleft":
        return value.rjust(to_int(args[0]), to_string(args[1]) if len(args) > 1 else " ")
    if key == "padright":
        return value.ljust(to_int(args[0]), to_string(args[1]) if len(args) > 1 else " ")
    if key == "equals":
        return value == to_string(args[0])
    if key == "insert":
        index = to_int(args[0])
        return value[:index] + to_string(args[1]) + value[index:]
    if key == "remove":
        start = to_int(args[0])
        end = start + to_int(args[1]) if len(args) > 1 else len(value)
        return value[:start] + value[end:]
    if key == "tochararray":
        return list(value)
    if key == "normalize":
        return value
    raise _method_missing(value, name)


def _case_op(value: str, args: list[Any], fn: Callable[[str, str], bool]) -> bool:
    needle = to_string(args[0])
    ignore_case = len(args) > 1 and "ignorecase" in to_string(args[1]).casefold()
    if ignore_case:
        return fn(value.casefold(), needle.casefold())
    return fn(value, needle)


def _list_method(value: list[Any] | tuple[Any, ...], key: str, name: str, args: list[Any]) -> Any:
    if key == "contains":
        return any(equals(item, args[0], True) for item in value)
    if key == "indexof":
        for index, item in enumerate(value):
            if equals(item, args[0], True):
                return index
        return -1
    if key == "toarray":
        return list(value)
    if isinstance(value, ArrayList):
        if key == "add":
            value.append(args[0])
            return VOID if isinstance(value, GenericList) else len(value) - 1
        if key == "addrange":
            value.extend(args[0] if isinstance(args[0], list | tuple) else [args[0]])
            return VOID
        if key == "remove":
            for index, item in enumerate(value):
                if equals(item, args[0], True):
                    del value[index]
                    break
            return VOID
        if key == "removeat":
            del value[to_int(args[0])]
            return VOID
        if key == "insert":
            value.insert(to_int(args[0]), args[1])
            return VOID
        if key == "clear":
            value.clear()
            return VOID
    elif key in ("add", "addrange", "remove", "removeat", "insert", "clear"):
        raise _invocation_error(name, args, "Collection was of a fixed size.")
    # Member enumeration: a method the collection lacks is called on each element.
    if not value:
        raise _method_missing(value, name)
    results = [call_method(item, name, args) for item in value]
    return [r for r in results if r is not VOID]


def _hashtable_method(value: Hashtable, key: str, name: str, args: list[Any]) -> Any:
    if args and key in ("containskey", "contains", "add", "remove"):
        args = [table_key(args[0]), *args[1:]]
    if key in ("containskey", "contains"):
        return args[0] in value
    if key == "containsvalue":
        return any(equals(v, args[0]) for v in value.values())
    if key == "add":
        if args[0] in value:
            raise _invocation_error(
                name,
                args,
                f"Item has already been added. Key in dictionary: "
                f"'{to_string(args[0])}'  Key being added: '{to_string(args[0])}'",
            )
        value[args[0]] = args[1]
        return VOID
    if key == "remove":
        value.pop(args[0], None)
        return VOID
    if key == "clear":
        value.clear()
        return VOID
    if key == "clone":
        return Hashtable(value.items(), ordered=value.ordered)
    if key == "getenumerator":
        return [
            PSObject(
                [("Key", k), ("Value", v)],
                type_names=("System.Collections.DictionaryEntry", "System.Object"),
            )
            for k, v in value.items()
        ]
    raise _method_missing(value, name)


def _date_method(value: dt.datetime, key: str, name: str, args: list[Any]) -> Any:
    adders = {
        "adddays": "days",
        "addhours": "hours",
        "addminutes": "minutes",
        "addseconds": "seconds",
        "addmilliseconds": "milliseconds",
    }
    if key in adders:
        return value + dt.timedelta(**{adders[key]: float(to_number(args[0]))})
    if key in ("addmonths", "addyears"):
        months = to_int(args[0]) * (12 if key == "addyears" else 1)
        month_index = value.month - 1 + months
        year, month = value.year + month_index // 12, month_index % 12 + 1
        import calendar

        day = min(value.day, calendar.monthrange(year, month)[1])
        return value.replace(year=year, month=month, day=day)
    if key == "touniversaltime":
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if key == "tolocaltime":
        return value
    if key == "tostring":
        return format_date(value, to_string(args[0])) if args else to_string(value)
    if key == "subtract":
        other = args[0]
        if isinstance(other, dt.datetime):
            return value.replace(tzinfo=None) - other.replace(tzinfo=None)
        if isinstance(other, dt.timedelta):
            return value - other
    raise _method_missing(value, name)


def call_method(value: Any, name: str, args: list[Any]) -> Any:
    """``$value.name(args)``; void methods return ``VOID``."""
    key = name.casefold()
    if value is None:
        raise runtime_error(
            "You cannot call a method on a null-valued expression.",
            "InvokeMethodOnNull",
            category="InvalidOperation",
        )
    if key == "tostring" and not isinstance(value, dt.datetime):
        if args and isinstance(value, int | float) and not isinstance(value, bool):
            return format_value(value, to_string(args[0]))
        if args and isinstance(value, uuid.UUID):
            fmt = to_string(args[0]).upper()
            return str(value).replace("-", "") if fmt == "N" else str(value)
        return to_string(value)
    if key == "gettype":
        if isinstance(value, ExceptionInfo):
            return TypeValue(value.type_name)
        return TypeValue(type_name_of(value))
    if key == "equals" and not isinstance(value, str):
        return equals(value, args[0])
    if key == "gethashcode":
        return hash(to_string(value)) & 0x7FFFFFFF
    if isinstance(value, str):
        return _string_method(value, key, name, args)
    if isinstance(value, list | tuple):
        return _list_method(value, key, name, args)
    if isinstance(value, Hashtable):
        return _hashtable_method(value, key, name, args)
    if isinstance(value, dt.datetime):
        return _date_method(value, key, name, args)
    if isinstance(value, SecureString) and key == "dispose":
        return VOID
    if isinstance(value, int | float) and key == "compareto":
        other = to_number(args[0])
        return (value > other) - (value < other)
    raise _method_missing(value, name)


def call_encoding(encoding: PSObject, name: str, args: list[Any]) -> Any:
    codec = to_string(encoding.properties["EncodingName"])
    key = name.casefold()
    if key == "getbytes":
        return to_string(args[0]).encode(codec)
    if key == "getstring":
        return bytes(args[0]).decode(codec)
    raise _method_missing(encoding, name)
