"""Turn engine-private values into :mod:`toolkit.sandbox.values` types at the sink.

Inside the engine some values have their own classes (exceptions, type objects, script
blocks, ArrayList). The host only knows the value model, so output is converted the way
PowerShell serializes these: an exception or a type becomes an object with its type
names, a script block its text, a list subclass a plain list. Values that need nothing
are returned as they are (no copy), so the common case costs one walk.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from toolkit.sandbox.pwsh.coercion import ScriptBlockValue
from toolkit.sandbox.pwsh.members import ExceptionInfo, TypeValue
from toolkit.sandbox.values import Hashtable, PSObject

_PLAIN = (str, int, float, bool, type(None))


def export(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list | tuple):
        items = [export(v) for v in value]
        if type(value) is list and all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items
    if isinstance(value, PSObject):
        changed = {k: export(v) for k, v in value.properties.items()}
        if all(changed[k] is v for k, v in value.properties.items()):
            return value
        return PSObject(changed.items(), value.type_names, value.to_string)
    if isinstance(value, Hashtable):
        converted = [(k, export(v)) for k, v in value.items()]
        if all(new is value[k] for k, new in converted):
            return value
        return Hashtable(converted, ordered=value.ordered)
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
            to_string=str(value),
        )
    return value
