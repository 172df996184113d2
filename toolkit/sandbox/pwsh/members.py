"""Properties and methods of values (``$x.Count``, ``$s.Trim()``, ``[string]::Join``)."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import uuid
from collections.abc import Callable
from typing import Any

from toolkit.sandbox.pwsh.coercion import (
    ArrayList,
    GenericList,
    lookup_type,
    to_bool,
    to_datetime,
    to_int,
    to_number,
    to_string,
    type_name_of,
)
from toolkit.sandbox.pwsh.errors import runtime_error
from toolkit.sandbox.pwsh.formatting import composite_format, format_date, format_value
from toolkit.sandbox.pwsh.operators import equals
from toolkit.sandbox.pwsh.runtime import VOID
from toolkit.sandbox.values import ErrorRecord, Hashtable, PSObject, SecureString


class TypeValue:
    """A type literal used as a value (``[int]``, ``$x.GetType()``)."""

    __slots__ = ("full_name",)

    def __init__(self, full_name: str):
        self.full_name = full_name

    def __str__(self) -> str:
        return self.full_name


class ExceptionInfo:
    """``$_.Exception``: the .NET exception behind an error record."""

    __slots__ = ("message", "type_name")

    def __init__(self, type_name: str, message: str):
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return self.message


def _error_member(record: ErrorRecord, key: str) -> Any:
    if key == "exception":
        return ExceptionInfo(record.exception_type, record.message)
    if key == "fullyqualifiederrorid":
        return record.fully_qualified_error_id
    if key == "categoryinfo":
        return PSObject(
            [
                ("Category", record.category),
                ("Activity", record.command_name or ""),
                ("Reason", record.reason or record.exception_type.rsplit(".", 1)[-1]),
                ("TargetName", to_string(record.target_object)),
                ("TargetType", ""),
            ],
            to_string=f"{record.category}: ({to_string(record.target_object)}:) "
            f"[{record.command_name or ''}], "
            f"{record.reason or record.exception_type.rsplit('.', 1)[-1]}",
        )
    if key == "targetobject":
        return record.target_object
    if key == "invocationinfo":
        return PSObject(
            [("ScriptLineNumber", record.script_line or 0), ("MyCommand", record.command_name)]
        )
    if key in ("errordetails", "scriptstacktrace"):
        return None
    return None


MISSING_MEMBER = object()  # get_member's "no such property" from a folded lookup


def get_member(value: Any, name: str) -> Any:
    key = name.casefold()
    if key in ("psobject", "pstypenames"):
        return _introspection(value) if key == "psobject" else _type_names(value)
    if isinstance(value, PSObject):
        found = value.properties.get_folded(key, MISSING_MEMBER)
        return _common_member(value, key) if found is MISSING_MEMBER else found
    if isinstance(value, Hashtable):
        found = value.get_folded(key, MISSING_MEMBER)
        if found is not MISSING_MEMBER:
            return found
        if key == "count":
            return len(value)
        if key == "keys":
            return list(value.keys())
        if key == "values":
            return list(value.values())
        return None
    if isinstance(value, list | tuple):
        if key in ("count", "length"):
            return len(value)
        found = [get_member(item, name) for item in value]
        flat: list[Any] = []
        for item in found:
            if isinstance(item, list | tuple):
                flat.extend(item)
            elif item is not None:
                flat.append(item)
        return flat[0] if len(flat) == 1 else flat
    if isinstance(value, str):
        if key == "length":
            return len(value)
        return _common_member(value, key)
    if isinstance(value, ErrorRecord):
        return _error_member(value, key)
    if isinstance(value, ExceptionInfo):
        if key == "message":
            return value.message
        return None
    if isinstance(value, dt.datetime):
        return _date_member(value, key)
    if isinstance(value, dt.timedelta):
        return _timespan_member(value, key)
    if isinstance(value, TypeValue):
        if key == "fullname":
            return value.full_name
        if key == "name":
            return value.full_name.rsplit(".", 1)[-1]
        return None
    if isinstance(value, uuid.UUID) and key == "guid":
        return str(value)
    if isinstance(value, bytes) and key in ("count", "length"):
        return len(value)
    if isinstance(value, SecureString) and key == "length":
        return len(value.reveal())
    return _common_member(value, key)


def _type_names(value: Any) -> list[str]:
    if isinstance(value, PSObject):
        return list(value.type_names)
    return [type_name_of(value), "System.Object"]


def _introspection(value: Any) -> PSObject:
    """``$x.PSObject``: its Properties (name/value pairs) and TypeNames."""
    if isinstance(value, PSObject):
        pairs = list(value.properties.items())
    elif isinstance(value, Hashtable):
        pairs = [
            ("Count", len(value)),
            ("Keys", list(value.keys())),
            ("Values", list(value.values())),
        ]
    else:
        pairs = []
    properties = [
        PSObject(
            [
                ("Name", k),
                ("Value", v),
                ("MemberType", "NoteProperty"),
                ("TypeNameOfValue", type_name_of(v)),
            ],
            type_names=("System.Management.Automation.PSNoteProperty", "System.Object"),
        )
        for k, v in pairs
    ]
    return PSObject(
        [("Properties", properties), ("TypeNames", _type_names(value)), ("BaseObject", value)],
        type_names=("System.Management.Automation.PSObject", "System.Object"),
    )


def has_member(value: Any, name: str) -> bool:
    """Whether ``value`` has a property ``name`` at all (strict mode 2 refuses others)."""
    key = name.casefold()
    if key in ("count", "length", "psobject", "pstypenames"):
        return True
    if isinstance(value, PSObject):
        return name in value.properties
    if isinstance(value, Hashtable):
        return True  # a missing key reads as $null even in strict mode
    if isinstance(value, list | tuple):
        return any(has_member(item, name) for item in value)
    return get_member(value, name) is not None


def _common_member(value: Any, key: str) -> Any:
    """Members every object has in PowerShell: ``Count``/``Length`` of a scalar is 1."""
    if key in ("count", "length"):
        return 0 if value is None else 1
    return None


def _date_member(value: dt.datetime, key: str) -> Any:
    table: dict[str, Callable[[], Any]] = {
        "year": lambda: value.year,
        "month": lambda: value.month,
        "day": lambda: value.day,
        "hour": lambda: value.hour,
        "minute": lambda: value.minute,
        "second": lambda: value.second,
        "millisecond": lambda: value.microsecond // 1000,
        "date": lambda: dt.datetime(value.year, value.month, value.day, tzinfo=value.tzinfo),
        "dayofweek": lambda: value.strftime("%A"),
        "dayofyear": lambda: value.timetuple().tm_yday,
        "ticks": lambda: int(
            (value.replace(tzinfo=None) - dt.datetime(1, 1, 1)).total_seconds() * 10_000_000
        ),
        "kind": lambda: "Utc" if value.tzinfo is not None else "Local",
    }
    getter = table.get(key)
    return getter() if getter else None


def _timespan_member(value: dt.timedelta, key: str) -> Any:
    seconds = value.total_seconds()
    table = {
        "totaldays": seconds / 86400,
        "totalhours": seconds / 3600,
        "totalminutes": seconds / 60,
        "totalseconds": seconds,
        "totalmilliseconds": seconds * 1000,
        "days": value.days,
        "hours": value.seconds // 3600,
        "minutes": (value.seconds // 60) % 60,
        "seconds": value.seconds % 60,
    }
    return table.get(key)


def set_member(target: Any, name: str, value: Any) -> None:
    if isinstance(target, Hashtable):
        target[name] = value
        return
    if isinstance(target, PSObject):
        if name not in target.properties and target.type_names[0].startswith("Deserialized."):
            raise runtime_error(
                f"The property '{name}' cannot be found on this object. Verify that the "
                "property exists and can be set.",
                "PropertyAssignmentException",
            )
        target.properties[name] = value
        return
    raise runtime_error(
        f"The property '{name}' cannot be found on this object. Verify that the property "
        "exists and can be set.",
        "PropertyNotFound",
    )


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


def table_key(key: Any) -> Any:
    """A hashtable key. Collections as keys (compared by reference in .NET) are refused
    loudly rather than emulated."""
    try:
        hash(key)
    except TypeError:
        raise runtime_error(
            f"The sandbox engine does not support a {type_name_of(key)} as a hashtable key.",
            "UnsupportedHashtableKey",
            exception_type="System.NotSupportedException",
        ) from None
    return key


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


def _encoding(name: str) -> PSObject:
    return PSObject([("EncodingName", name)], type_names=("System.Text.Encoding",))


_ENCODINGS = {"utf8": "utf-8", "ascii": "ascii", "unicode": "utf-16-le", "default": "utf-8"}


def get_static(type_name: str, name: str) -> Any:
    """``[Type]::Member`` for the few static properties scripts use."""
    key = (type_name.casefold().removeprefix("system."), name.casefold())
    table: dict[tuple[str, str], Callable[[], Any]] = {
        ("string", "empty"): lambda: "",
        ("guid", "empty"): lambda: uuid.UUID(int=0),
        ("datetime", "now"): dt.datetime.now,
        ("datetime", "utcnow"): lambda: dt.datetime.now(dt.UTC),
        ("datetime", "today"): lambda: dt.datetime.combine(dt.date.today(), dt.time()),
        ("datetime", "minvalue"): lambda: dt.datetime(1, 1, 1),
        ("datetime", "maxvalue"): lambda: dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
        ("int32", "maxvalue"): lambda: 2**31 - 1,
        ("int32", "minvalue"): lambda: -(2**31),
        ("int64", "maxvalue"): lambda: 2**63 - 1,
        ("environment", "newline"): lambda: "\r\n",
        ("math", "pi"): lambda: math.pi,
        ("dbnull", "value"): lambda: None,
    }
    if key[0] in ("int",):
        key = ("int32", key[1])
    if key[0] in ("long",):
        key = ("int64", key[1])
    if key[0] in ("text.encoding",) and key[1] in _ENCODINGS:
        return _encoding(_ENCODINGS[key[1]])
    getter = table.get(key)
    if getter is None:
        raise runtime_error(
            f"The sandbox engine does not support the static member [{type_name}]::{name}.",
            "UnsupportedStaticMember",
            exception_type="System.NotSupportedException",
        )
    return getter()


def call_static(type_name: str, name: str, args: list[Any]) -> Any:
    """``[Type]::Method(args)`` for the static methods scripts commonly use."""
    kind = type_name.casefold().removeprefix("system.")
    key = name.casefold()
    if kind == "string":
        if key == "isnullorempty":
            return args[0] is None or to_string(args[0]) == ""
        if key == "isnullorwhitespace":
            return args[0] is None or to_string(args[0]).strip() == ""
        if key == "join":
            items = args[1] if len(args) == 2 and isinstance(args[1], list | tuple) else args[1:]
            return to_string(args[0]).join(to_string(i) for i in items)
        if key == "format":
            rest = args[1] if len(args) == 2 and isinstance(args[1], list | tuple) else args[1:]
            return composite_format(to_string(args[0]), list(rest))
        if key == "concat":
            return "".join(to_string(a) for a in args)
    if kind == "guid":
        if key == "newguid":
            return uuid.uuid4()
        if key == "parse":
            return uuid.UUID(to_string(args[0]))
    if kind == "datetime" and key in ("parse", "parseexact"):
        return to_datetime(args[0])
    if kind in ("int", "int32") and key == "parse":
        return to_int(args[0])
    if kind == "math":
        return _math(key, name, args)
    if kind == "convert":
        if key == "tobase64string":
            return base64.b64encode(bytes(args[0])).decode("ascii")
        if key == "frombase64string":
            return base64.b64decode(to_string(args[0]))
        if key == "toint32":
            return to_int(args[0])
        if key == "toboolean":
            return to_bool(args[0])
    if kind in ("regex", "text.regularexpressions.regex") and key == "escape":
        return re.escape(to_string(args[0]))
    if kind == "collections.arraylist" and key == "new":
        return ArrayList()
    if kind in ("collections.hashtable", "hashtable") and key == "new":
        return Hashtable()
    if kind == "text.encoding" or kind.startswith("text.encoding"):
        pass
    found = lookup_type(type_name)
    if found and key == "new" and found[0] == "System.Collections.Generic.List":
        return GenericList()
    if key == "new" and kind in EXCEPTION_TYPES:
        return new_exception(kind, args)
    raise runtime_error(
        f"The sandbox engine does not support the static method [{type_name}]::{name}().",
        "UnsupportedStaticMethod",
        exception_type="System.NotSupportedException",
    )


EXCEPTION_TYPES = {
    "exception": "System.Exception",
    "argumentexception": "System.ArgumentException",
    "invalidoperationexception": "System.InvalidOperationException",
    "management.automation.runtimeexception": "System.Management.Automation.RuntimeException",
    "management.automation.itemnotfoundexception": (
        "System.Management.Automation.ItemNotFoundException"
    ),
    "timeoutexception": "System.TimeoutException",
    "notsupportedexception": "System.NotSupportedException",
    "unauthorizedaccessexception": "System.UnauthorizedAccessException",
}


def new_exception(kind: str, args: list[Any]) -> ExceptionInfo:
    """``[System.Exception]::new('message')`` and the like, for ``throw``."""
    message = (
        to_string(args[0]) if args else f"Exception of type '{EXCEPTION_TYPES[kind]}' was thrown."
    )
    return ExceptionInfo(EXCEPTION_TYPES[kind], message)


def call_encoding(encoding: PSObject, name: str, args: list[Any]) -> Any:
    codec = to_string(encoding.properties["EncodingName"])
    key = name.casefold()
    if key == "getbytes":
        return to_string(args[0]).encode(codec)
    if key == "getstring":
        return bytes(args[0]).decode(codec)
    raise _method_missing(encoding, name)


def _math(key: str, name: str, args: list[Any]) -> Any:
    numbers = [to_number(a) for a in args]
    if key == "round":
        digits = int(numbers[1]) if len(numbers) > 1 else 0
        rounded = round(float(numbers[0]), digits)
        return rounded if digits else float(rounded)
    functions: dict[str, Callable[..., Any]] = {
        "floor": lambda x: float(math.floor(x)),
        "ceiling": lambda x: float(math.ceil(x)),
        "abs": abs,
        "min": min,
        "max": max,
        "sqrt": math.sqrt,
        "pow": math.pow,
        "truncate": lambda x: float(math.trunc(x)),
    }
    fn = functions.get(key)
    if fn is None:
        raise runtime_error(
            f"The sandbox engine does not support [Math]::{name}().",
            "UnsupportedStaticMethod",
            exception_type="System.NotSupportedException",
        )
    return fn(*numbers)


def get_index(target: Any, index: Any) -> Any:
    """``$target[index]``: arrays (negative from the end, out of range is $null),
    strings, hashtables; a list of indexes gives a list. A scalar acts as a one-element
    array, as in PowerShell 3 and later."""
    if target is None:
        raise runtime_error(
            "Cannot index into a null array.", "NullArray", category="InvalidOperation"
        )
    if isinstance(index, list | tuple) and not isinstance(target, Hashtable):
        return [get_index(target, i) for i in index]
    if isinstance(target, Hashtable):
        if isinstance(index, list | tuple):
            return [target.get(table_key(i)) for i in index]
        return target.get(table_key(index))
    if isinstance(target, list | tuple | str | bytes):
        position = int(to_number(index))
        if -len(target) <= position < len(target):
            return target[position]
        return None
    if isinstance(index, int) and not isinstance(target, PSObject):
        return target if index in (0, -1) else None
    raise runtime_error(
        f"Unable to index into an object of type {type_name_of(target)}.", "CannotIndex"
    )


def set_index(target: Any, index: Any, value: Any) -> None:
    if isinstance(target, Hashtable):
        target[table_key(index)] = value
        return
    if isinstance(target, list):
        position = int(to_number(index))
        if not -len(target) <= position < len(target):
            raise runtime_error(
                "Index was outside the bounds of the array.",
                "IndexOutOfRange",
                exception_type="System.IndexOutOfRangeException",
            )
        target[position] = value
        return
    if isinstance(target, PSObject):
        set_member(target, to_string(index), value)
        return
    raise runtime_error("Unable to index into an object of this type.", "CannotIndex")
