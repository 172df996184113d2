"""Static members of .NET types (``[string]::Join``, ``[datetime]::UtcNow``,
``[Math]::Round``, ``[Exception]::new``): :func:`get_static` and :func:`call_static` cover
the few that scripts use and refuse the others as unsupported, and :func:`new_exception`
also serves New-Object. Kept apart from :mod:`.members` and :mod:`.value_methods` because
they start from a type name, not from a value.
"""

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
)
from toolkit.sandbox.pwsh.errors import not_supported
from toolkit.sandbox.pwsh.formatting import composite_format
from toolkit.sandbox.pwsh.members import ExceptionInfo
from toolkit.sandbox.values import Hashtable, PSObject


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
        raise not_supported(
            f"The sandbox engine does not support the static member [{type_name}]::{name}.",
            "UnsupportedStaticMember",
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
    raise not_supported(
        f"The sandbox engine does not support the static method [{type_name}]::{name}().",
        "UnsupportedStaticMethod",
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
        raise not_supported(
            f"The sandbox engine does not support [Math]::{name}().",
            "UnsupportedStaticMethod",
        )
    return fn(*numbers)
