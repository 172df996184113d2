"""Turn engine-private values into :mod:`toolkit.sandbox.values` types at the sink.

Inside the engine some values have their own classes (exceptions, type objects, script
blocks, ArrayList). The host only knows the value model, so output is converted the way
PowerShell serializes these: an exception or a type becomes an object with its type
names, a script block its text, a list subclass a plain list. Output that needs nothing
(the usual case) is checked, not copied.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from toolkit.sandbox.pwsh.coercion import ScriptBlockValue, format_timespan
from toolkit.sandbox.pwsh.members import ExceptionInfo, TypeValue
from toolkit.sandbox.values import Hashtable, PSObject

_PLAIN = (str, int, float, bool, type(None))


def export(value: Any) -> Any:
    return value if _clean(value) else _convert(value)


def _clean(value: Any) -> bool:
    """True when ``value`` holds only value-model types (no copy needed)."""
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, PSObject):
        return all(isinstance(v, _PLAIN) or _clean(v) for v in value.properties.values())
    if isinstance(value, Hashtable):
        return all(isinstance(v, _PLAIN) or _clean(v) for v in value.values())
    if type(value) is list or type(value) is tuple:
        return all(isinstance(v, _PLAIN) or _clean(v) for v in value)
    return not isinstance(value, ExceptionInfo | TypeValue | ScriptBlockValue | dt.timedelta | list)


def _convert(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list | tuple):
        return [export(v) for v in value]
    if isinstance(value, PSObject):
        return PSObject(
            [(k, export(v)) for k, v in value.properties.items()], value.type_names, value.to_string
        )
    if isinstance(value, Hashtable):
        return Hashtable([(k, export(v)) for k, v in value.items()], ordered=value.ordered)
    if isinstance(value, ExceptionInfo):
        return PSObject(
            [("Message", value.message), ("InnerException", None)],
            type_names=(value.type_name, "System.Exception", "System.Object"),
            to_string=value.message,
        )
    if isinstance(value, TypeValue):
        return PSObject(
            [("FullName", value.full_name), ("Name", value.full_name.rsplit(".", 1)[-1])],
            type_names=("System.RuntimeType", "System.Type", "System.Object"),
            to_string=value.full_name,
        )
    if isinstance(value, ScriptBlockValue):
        return value.text
    if isinstance(value, dt.timedelta):
        return PSObject(
            [("Days", value.days), ("TotalSeconds", value.total_seconds())],
            type_names=("System.TimeSpan", "System.Object"),
            to_string=format_timespan(value),
        )
    return value
