"""PowerShell's conversions: truthiness, string form, numbers, casts to named types."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Callable
from typing import Any

from toolkit.sandbox.pwsh.errors import PSError, runtime_error
from toolkit.sandbox.values import (
    PSCUSTOMOBJECT_TYPES,
    ErrorRecord,
    Hashtable,
    PSObject,
    SecureString,
)


class ArrayList(list[Any]):
    """A resizable ``System.Collections.ArrayList``; plain ``list`` is ``Object[]``."""


class GenericList(ArrayList):
    """A ``System.Collections.Generic.List[T]``: like ArrayList, but ``Add`` returns nothing."""


class ScriptBlockValue:
    """Interface of script blocks as values (implemented by the evaluator)."""

    text: str

    def __str__(self) -> str:
        return self.text


def is_enumerable(value: Any) -> bool:
    """Whether PowerShell unrolls this value in a pipeline (arrays, lists)."""
    return isinstance(value, list | tuple)


def to_bool(value: Any) -> bool:
    if value is None:
        return False
    cls = type(value)
    if cls is bool:
        return bool(value)
    if cls is str:
        return len(value) > 0
    if cls is int or cls is float:
        return value != 0
    if isinstance(value, list | tuple):
        if not value:
            return False
        if len(value) == 1:
            return to_bool(value[0])
        return True
    if isinstance(value, decimal.Decimal):
        return value != 0
    return True


def format_float(value: float) -> str:
    """``[double]`` to string as .NET's round-trippable 'R' format prints it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa.removesuffix('.0')}E{sign}{exponent.lstrip('+-').zfill(2)}"
    return text


def format_datetime(value: dt.datetime) -> str:
    """How PowerShell prints a DateTime in a string (invariant culture)."""
    return value.strftime("%m/%d/%Y %H:%M:%S")


def format_timespan(value: dt.timedelta) -> str:
    """A TimeSpan as .NET prints it: ``[-][d.]hh:mm:ss[.fffffff]``."""
    total = abs(value)
    days, rest = total.days, total.seconds
    text = f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"
    if days:
        text = f"{days}.{text}"
    if total.microseconds:
        text += f".{total.microseconds:06d}0"
    return "-" + text if value < dt.timedelta(0) else text


def to_string(value: Any) -> str:
    if value is None:
        return ""
    cls = type(value)
    if cls is str:
        return value
    if cls is bool:
        return "True" if value else "False"
    if cls is int:
        return str(value)
    if cls is float:
        return format_float(value)
    if isinstance(value, list | tuple):
        return " ".join(to_string(item) for item in value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    if isinstance(value, PSObject):
        return psobject_string(value)
    if isinstance(value, Hashtable | SecureString):
        return type_name_of(value)  # .NET's ToString() of these is the type name
    if isinstance(value, ErrorRecord):
        return value.message
    if isinstance(value, bytes):
        return " ".join(str(b) for b in value)
    return str(value)


def psobject_string(obj: PSObject) -> str:
    if obj.to_string is not None:
        return obj.to_string
    if obj.type_names and obj.type_names[0] == PSCUSTOMOBJECT_TYPES[0]:
        inner = "; ".join(f"{k}={to_string(v)}" for k, v in obj.properties.items())
        return "@{" + inner + "}"
    for key in ("Identity", "Name", "Id"):
        if key in obj.properties:
            return to_string(obj.properties[key])
    return obj.type_names[0] if obj.type_names else ""


def _conversion_error(value: Any, type_name: str, reason: str) -> PSError:
    shown = to_string(value)
    return runtime_error(
        f'Cannot convert value "{shown}" to type "{type_name}". Error: "{reason}"',
        "InvalidCastFromStringToInteger" if isinstance(value, str) else "InvalidCast",
        category="InvalidArgument",
        exception_type="System.Management.Automation.PSInvalidCastException",
        target=value,
    )


_HEX = re.compile(r"^\s*([+-]?)0x([0-9a-f]+)\s*$", re.IGNORECASE)
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_FLOAT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$", re.IGNORECASE)


def parse_number(text: str) -> int | float | None:
    """A string's numeric value as PowerShell reads it in arithmetic, else None."""
    if _INT.match(text):
        return int(text)
    match = _HEX.match(text)
    if match:
        number = int(match.group(2), 16)
        return -number if match.group(1) == "-" else number
    if _FLOAT.match(text):
        return float(text)
    if not text.strip():
        return 0
    return None


def to_number(value: Any) -> int | float | decimal.Decimal:
    """Operand of arithmetic: numbers stay, strings parse, bool/null become 0/1."""
    cls = type(value)
    if cls is int or cls is float:
        return value
    if value is None:
        return 0
    if cls is bool:
        return int(value)
    if cls is str:
        number = parse_number(value)
        if number is None:
            raise _conversion_error(
                value, "System.Int32", "Input string was not in a correct format."
            )
        return number
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, list | tuple) and len(value) == 1:
        return to_number(value[0])
    raise _conversion_error(value, "System.Int32", "Invalid cast.")


def to_int(value: Any, type_name: str = "System.Int32", bits: int = 32) -> int:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _conversion_error(value, type_name, "Value was either too large or too small.")
        number: Any = _round_half_even(value)
    elif isinstance(value, decimal.Decimal):
        number = int(value.to_integral_value(rounding=decimal.ROUND_HALF_EVEN))
    elif isinstance(value, str):
        parsed = parse_number(value)
        if parsed is None:
            raise _conversion_error(value, type_name, "Input string was not in a correct format.")
        number = parsed if isinstance(parsed, int) else _round_half_even(parsed)
    elif isinstance(value, dt.datetime | uuid.UUID | Hashtable | PSObject):
        raise _conversion_error(value, type_name, "Invalid cast.")
    else:
        number = to_number(value)
        if not isinstance(number, int):
            number = _round_half_even(float(number))
    limit = 1 << (bits - 1)
    if not -limit <= number < limit:
        raise _conversion_error(
            value,
            type_name,
            f"Value was either too large or too small for an {type_name.split('.')[-1]}.",
        )
    return int(number)


def _round_half_even(value: float) -> int:
    return round(value)


def to_float(value: Any) -> float:
    if isinstance(value, str):
        parsed = parse_number(value)
        if parsed is None:
            raise _conversion_error(
                value, "System.Double", "Input string was not in a correct format."
            )
        return float(parsed)
    return float(to_number(value))


def to_guid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(to_string(value).strip().strip("{}"))
    except ValueError:
        raise _conversion_error(
            value,
            "System.Guid",
            "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).",
        ) from None


_DATE_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
)


def to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = to_string(value).strip()
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise _conversion_error(
        value, "System.DateTime", "String was not recognized as a valid DateTime."
    )


class BooleanArgumentError(PSError):
    """A non-Boolean value for a Boolean or switch parameter."""


def _bool_argument(value: Any, type_name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return bool(value)
    if isinstance(value, list | tuple) and len(value) == 1:
        return _bool_argument(value[0], type_name)
    raise BooleanArgumentError(
        runtime_error(
            f'Cannot convert value "{type_name_of(value)}" to type "{type_name}". Boolean '
            "parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
            "BooleanArgument",
        ).record
    )


def to_bool_argument(value: Any) -> bool:
    """A ``[bool]`` parameter's argument: stricter than a cast (no strings)."""
    return _bool_argument(value, "System.Boolean")


def to_switch_argument(value: Any) -> bool:
    return _bool_argument(value, "System.Management.Automation.SwitchParameter")


def to_bool_cast(value: Any) -> bool:
    """``[bool]`` cast: same as truthiness (``[bool]'false'`` is true)."""
    return to_bool(value)


def to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    items = value if isinstance(value, list | tuple) else [value]
    out = bytearray()
    for item in items:
        number = to_int(item, "System.Byte", 9)
        if not 0 <= number <= 255:
            raise _conversion_error(
                item, "System.Byte", "Value was either too large or too small for an unsigned byte."
            )
        out.append(number)
    return bytes(out)


def to_char(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 0xFFFF:
            raise _conversion_error(
                value, "System.Char", "Value was either too large or too small for a character."
            )
        return chr(value)
    text = to_string(value)
    if len(text) != 1:
        raise _conversion_error(value, "System.Char", "String must be exactly one character long.")
    return text


def to_hashtable(value: Any) -> Hashtable:
    if isinstance(value, Hashtable):
        return value
    if isinstance(value, PSObject):
        return Hashtable(value.properties.items())
    if isinstance(value, dict):
        return Hashtable(value.items())
    raise _conversion_error(value, "System.Collections.Hashtable", "Invalid cast.")


def to_pscustomobject(value: Any) -> Any:
    if isinstance(value, Hashtable):
        return PSObject(value.items())
    return value


def to_array(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


def typed_array(convert: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def convert_all(value: Any) -> list[Any]:
        if value is None:
            return []
        return [convert(item) for item in to_array(value)]

    return convert_all


def to_securestring(value: Any) -> SecureString:
    if isinstance(value, SecureString):
        return value
    if isinstance(value, str):
        raise _conversion_error(value, "System.Security.SecureString", "Invalid cast.")
    raise _conversion_error(value, "System.Security.SecureString", "Invalid cast.")


def to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, float):
        return decimal.Decimal(str(value))
    return decimal.Decimal(to_number(value) if not isinstance(value, str) else value.strip())


def _identity(value: Any) -> Any:
    return value


def _to_switch(value: Any) -> bool:
    return to_bool(value)


def _to_regex(value: Any) -> Any:
    return re.compile(to_string(value), re.IGNORECASE)


def _to_ordered(value: Any) -> Hashtable:
    table = to_hashtable(value)
    return Hashtable(table.items(), ordered=True)


# Lower-cased type names (short and full) -> (display name, converter).
_TYPES: dict[str, tuple[str, Callable[[Any], Any]]] = {}


def _register(names: tuple[str, ...], display: str, convert: Callable[[Any], Any]) -> None:
    for name in names:
        _TYPES[name] = (display, convert)


_register(("string", "system.string"), "System.String", to_string)
_register(("int", "int32", "system.int32"), "System.Int32", lambda v: to_int(v))
_register(
    ("long", "int64", "system.int64"), "System.Int64", lambda v: to_int(v, "System.Int64", 64)
)
_register(("uint32", "system.uint32"), "System.UInt32", lambda v: to_int(v, "System.UInt32", 33))
_register(("byte", "system.byte"), "System.Byte", lambda v: to_bytes([v])[0])
_register(("double", "float", "single", "system.double"), "System.Double", to_float)
_register(("decimal", "system.decimal"), "System.Decimal", to_decimal)
_register(("bool", "boolean", "system.boolean"), "System.Boolean", to_bool_cast)
_register(
    ("switch", "switchparameter", "system.management.automation.switchparameter"),
    "System.Management.Automation.SwitchParameter",
    _to_switch,
)
_register(("guid", "system.guid"), "System.Guid", to_guid)
_register(("datetime", "system.datetime"), "System.DateTime", to_datetime)
_register(("char", "system.char"), "System.Char", to_char)
_register(
    ("hashtable", "system.collections.hashtable", "system.collections.idictionary", "idictionary"),
    "System.Collections.Hashtable",
    to_hashtable,
)
_register(("ordered",), "System.Collections.Specialized.OrderedDictionary", _to_ordered)
_register(
    ("pscustomobject", "system.management.automation.pscustomobject"),
    "System.Management.Automation.PSCustomObject",
    to_pscustomobject,
)
_register(
    ("psobject", "object", "system.object", "system.management.automation.psobject"),
    "System.Object",
    _identity,
)
_register(
    ("array", "object[]", "system.object[]", "system.array"),
    "System.Object[]",
    lambda v: list(to_array(v)),
)
_register(("byte[]", "system.byte[]"), "System.Byte[]", to_bytes)
_register(
    ("char[]", "system.char[]"),
    "System.Char[]",
    lambda v: list(v) if isinstance(v, str) else [to_char(item) for item in to_array(v)],
)
_register(("string[]", "system.string[]"), "System.String[]", typed_array(to_string))
_register(("int[]", "int32[]", "system.int32[]"), "System.Int32[]", typed_array(to_int))
_register(
    ("long[]", "system.int64[]"),
    "System.Int64[]",
    typed_array(lambda v: to_int(v, "System.Int64", 64)),
)
_register(("guid[]", "system.guid[]"), "System.Guid[]", typed_array(to_guid))
_register(("hashtable[]",), "System.Collections.Hashtable[]", typed_array(to_hashtable))
_register(
    ("securestring", "system.security.securestring"),
    "System.Security.SecureString",
    to_securestring,
)
_register(
    ("regex", "system.text.regularexpressions.regex"),
    "System.Text.RegularExpressions.Regex",
    _to_regex,
)
_register(
    ("system.collections.arraylist", "collections.arraylist"),
    "System.Collections.ArrayList",
    lambda v: ArrayList(to_array(v)),
)
_register(("void",), "System.Void", lambda v: None)


def lookup_type(name: str) -> tuple[str, Callable[[Any], Any]] | None:
    """(full type name, converter) for a type literal's name, or None when unknown."""
    key = name.casefold()
    found = _TYPES.get(key)
    if found is None and key.startswith("system.collections.generic.list["):
        found = ("System.Collections.Generic.List", lambda v: GenericList(to_array(v)))
    return found


def type_name_of(value: Any) -> str:
    """The .NET full name of a value's type, as ``.GetType().FullName`` reports it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32" if -(1 << 31) <= value < (1 << 31) else "System.Int64"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, GenericList):
        return "System.Collections.Generic.List`1[[System.Object]]"
    if isinstance(value, ArrayList):
        return "System.Collections.ArrayList"
    if isinstance(value, list | tuple):
        return "System.Object[]"
    if isinstance(value, Hashtable):
        return (
            "System.Collections.Specialized.OrderedDictionary"
            if value.ordered
            else "System.Collections.Hashtable"
        )
    if isinstance(value, PSObject):
        return value.type_names[0] if value.type_names else "System.Object"
    if isinstance(value, dt.datetime):
        return "System.DateTime"
    if isinstance(value, uuid.UUID):
        return "System.Guid"
    if isinstance(value, bytes):
        return "System.Byte[]"
    if isinstance(value, SecureString):
        return "System.Security.SecureString"
    if isinstance(value, ErrorRecord):
        return "System.Management.Automation.ErrorRecord"
    if isinstance(value, decimal.Decimal):
        return "System.Decimal"
    if isinstance(value, ScriptBlockValue):
        return "System.Management.Automation.ScriptBlock"
    return "System.Object"


def is_instance(value: Any, type_full_name: str) -> bool:
    """``-is``: exact type, PSObject type names, or well-known base types."""
    target = type_full_name.casefold()
    if target == "system.object":
        return value is not None
    if isinstance(value, PSObject):
        names = [t.casefold() for t in value.type_names]
        return target in names or (
            target == "system.management.automation.pscustomobject"
            and PSCUSTOMOBJECT_TYPES[0].casefold() in names
        )
    actual = type_name_of(value).casefold()
    if actual == target:
        return True
    if target == "system.array":
        return isinstance(value, list | tuple) and not isinstance(value, ArrayList)
    if target == "system.collections.idictionary":
        return isinstance(value, Hashtable)
    if target == "system.int64":
        return isinstance(value, int) and not isinstance(value, bool) and actual == "system.int64"
    return False


def coerce_split(value: Any) -> list[Any]:
    """An enum-array element written as ``'A,B'`` binds as two values, as in PowerShell."""
    if isinstance(value, str) and "," in value:
        return [part.strip() for part in value.split(",")]
    return [value]
