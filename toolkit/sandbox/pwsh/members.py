"""Properties of values and indexing (``$x.Count``, ``$x.PSObject``, ``$x[0]``); methods
called on values are in :mod:`.value_methods`, static members (``[string]::Join``) in
:mod:`.static_members`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from toolkit.sandbox.pwsh.coercion import to_number, to_string, type_name_of
from toolkit.sandbox.pwsh.errors import not_supported, runtime_error
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


def table_key(key: Any) -> Any:
    """A hashtable key. Collections as keys (compared by reference in .NET) are refused
    loudly rather than emulated."""
    try:
        hash(key)
    except TypeError:
        raise not_supported(
            f"The sandbox engine does not support a {type_name_of(key)} as a hashtable key.",
            "UnsupportedHashtableKey",
        ) from None
    return key


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
