"""PowerShell's binary and unary operators, with its rules for arrays and coercion.

The left operand decides: a collection on the left filters (``@(1,2,3) -gt 1`` is
``@(2,3)``); a scalar on the left converts the right operand to its own type.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from toolkit.sandbox.pwsh.coercion import (
    ArrayList,
    is_instance,
    parse_number,
    to_bool,
    to_datetime,
    to_guid,
    to_number,
    to_string,
    type_name_of,
)
from toolkit.sandbox.pwsh.errors import runtime_error
from toolkit.sandbox.pwsh.formatting import composite_format
from toolkit.sandbox.values import Hashtable

_NO_VALUE = object()


def _convert_like(left: Any, right: Any) -> Any:
    """Convert ``right`` to ``left``'s type for comparison, or _NO_VALUE if impossible."""
    if right is None:
        return None
    if isinstance(left, bool):
        return to_bool(right)
    if isinstance(left, int | float | decimal.Decimal):
        if isinstance(right, bool):
            return int(right)
        if isinstance(right, int | float | decimal.Decimal):
            return right
        if isinstance(right, str):
            number = parse_number(right)
            return _NO_VALUE if number is None or not right.strip() else number
        return _NO_VALUE
    if isinstance(left, dt.datetime):
        try:
            return to_datetime(right)
        except Exception:
            return _NO_VALUE
    if isinstance(left, uuid.UUID):
        try:
            return to_guid(right)
        except Exception:
            return _NO_VALUE
    return right


def equals(left: Any, right: Any, case_sensitive: bool = False) -> bool:
    """Scalar ``-eq``."""
    if left is None:
        return right is None
    kind = type(left)
    if (kind is bool or kind is int) and type(right) is kind:
        return left == right  # what the conversion below comes to, without its checks
    if isinstance(left, str):
        if right is None:
            return False
        text = right if isinstance(right, str) else to_string(right)
        if case_sensitive:
            return left == text
        return left == text or left.casefold() == text.casefold()
    if isinstance(left, list | tuple | Hashtable):
        return left is right
    converted = _convert_like(left, right)
    if converted is _NO_VALUE or converted is None:
        return False
    if isinstance(left, dt.datetime) and isinstance(converted, dt.datetime):
        return _naive(left) == _naive(converted)
    return bool(left == converted)


def _naive(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=None)


def compare(left: Any, right: Any, case_sensitive: bool = False) -> int:
    """Ordering for ``-lt``/``-gt``/Sort-Object: negative, zero or positive."""
    if left is None and right is None:
        return 0
    if left is None:
        return -1 if not (isinstance(right, str) and right == "") else 0
    if right is None:
        return 1 if not (isinstance(left, str) and left == "") else 0
    if isinstance(left, str):
        a = left
        b = to_string(right)
        if not case_sensitive:
            a, b = a.casefold(), b.casefold()
        return (a > b) - (a < b)
    converted = _convert_like(left, right)
    if converted is _NO_VALUE:
        raise runtime_error(
            f'Could not compare "{to_string(left)}" to "{to_string(right)}". Error: "Cannot '
            f'convert value "{to_string(right)}" to type "System.Int32". Error: "Input string '
            'was not in a correct format.""',
            "ComparisonFailure",
        )
    if isinstance(left, dt.datetime):
        left, converted = _naive(left), _naive(converted)
    try:
        return (left > converted) - (left < converted)
    except TypeError:
        a, b = to_string(left), to_string(converted)
        return (a > b) - (a < b)


@lru_cache(maxsize=512)
def wildcard_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """A ``-like`` pattern (``*``, ``?``, ``[a-z]``, backtick escapes) as a regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "`" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    flags = re.DOTALL | (0 if case_sensitive else re.IGNORECASE)
    try:
        return re.compile("".join(out), flags)
    except re.error:
        raise runtime_error(
            f"The specified wildcard character pattern is not valid: {pattern}",
            "WildcardPatternException",
            category="InvalidArgument",
            exception_type="System.Management.Automation.WildcardPatternException",
        ) from None


_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


@lru_cache(maxsize=512)
def dotnet_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """A .NET regular expression in Python syntax (named groups ``(?<n>...)``)."""
    try:
        return re.compile(_NAMED_GROUP.sub("(?P<", pattern), 0 if case_sensitive else re.IGNORECASE)
    except re.error as exc:
        raise runtime_error(
            f"The regular expression pattern {pattern} is not valid.",
            "InvalidRegularExpression",
            category="InvalidOperation",
            exception_type="System.ArgumentException",
        ) from exc


_DOTNET_SUBST = re.compile(r"\$\$|\$(\d+)|\$\{(\w+)\}|\$0|\\")


def dotnet_replacement(text: str) -> str:
    """Convert .NET substitution syntax (``$1``, ``${name}``, ``$$``) for ``re.sub``."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$$":
            return "$"
        if token == "\\":
            return "\\\\"
        if match.group(1) is not None:
            return f"\\g<{match.group(1)}>"
        if match.group(2) is not None:
            return f"\\g<{match.group(2)}>"
        return "\\g<0>"

    return _DOTNET_SUBST.sub(swap, text)


def like(left: Any, right: Any, case_sensitive: bool = False) -> bool:
    return wildcard_regex(to_string(right), case_sensitive).fullmatch(to_string(left)) is not None


def match(left: Any, right: Any, case_sensitive: bool = False) -> re.Match[str] | None:
    return dotnet_regex(to_string(right), case_sensitive).search(to_string(left))


def contains(collection: Any, item: Any, case_sensitive: bool = False) -> bool:
    items = collection if isinstance(collection, list | tuple) else [collection]
    return any(equals(element, item, case_sensitive) for element in items)


def replace(left: Any, right: Any, case_sensitive: bool = False) -> Any:
    if isinstance(right, list | tuple):
        if not right or len(right) > 2:
            raise runtime_error(
                f"The -replace operator allows only two elements to follow it, not {len(right)}.",
                "BadReplaceArgument",
            )
        pattern, substitute = right[0], (right[1] if len(right) > 1 else "")
    else:
        pattern, substitute = right, ""
    regex = dotnet_regex(to_string(pattern), case_sensitive)
    template = dotnet_replacement(to_string(substitute))

    def one(value: Any) -> str:
        return regex.sub(template, to_string(value))

    if isinstance(left, list | tuple):
        return [one(item) for item in left]
    return one(left)


def split(left: Any, right: Any, case_sensitive: bool = False) -> list[str]:
    limit = 0
    if isinstance(right, list | tuple):
        if not right:
            raise runtime_error(
                "The -split operator needs a delimiter, not an empty array.", "BadSplitArgument"
            )
        pattern = to_string(right[0])
        if len(right) > 1:
            limit = int(to_number(right[1]))
    else:
        pattern = to_string(right)
    regex = dotnet_regex(pattern, case_sensitive)
    values = left if isinstance(left, list | tuple) else [left]
    out: list[str] = []
    for value in values:
        out.extend(regex.split(to_string(value), maxsplit=max(limit - 1, 0)))
    return out


def unary_split(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for item in values:
        out.extend(part for part in re.split(r"\s+", to_string(item)) if part)
    return out


def join(left: Any, right: Any) -> str:
    items = left if isinstance(left, list | tuple) else [left]
    return to_string(right).join(to_string(item) for item in items)


def format_operator(left: Any, right: Any) -> str:
    args = list(right) if isinstance(right, list | tuple) else [right]
    return composite_format(to_string(left), args)


def add(left: Any, right: Any) -> Any:
    cls = type(left)
    if cls is int and type(right) is int:
        return left + right
    if left is None:
        return right
    if cls is str:
        return left + to_string(right)
    if isinstance(left, list | tuple):
        extra = list(right) if isinstance(right, list | tuple) else [right]
        result = list(left) + extra
        return ArrayList(result) if isinstance(left, ArrayList) else result
    if isinstance(left, Hashtable):
        if not isinstance(right, Hashtable):
            raise runtime_error(
                "A hash table can only be added to another hash table.",
                "AddHashTableToNonHashTable",
            )
        merged = Hashtable(left.items(), ordered=left.ordered)
        for key, value in right.items():
            if key in merged:
                raise runtime_error(
                    f"Item has already been added. Key in dictionary: '{key}'  Key being "
                    f"added: '{key}'",
                    "ArgumentException",
                    exception_type="System.ArgumentException",
                )
            merged[key] = value
        return merged
    if isinstance(left, dt.datetime):
        raise runtime_error(
            "Adding to a DateTime needs a TimeSpan; use .AddDays() etc.", "DateTimeAddition"
        )
    return _arith(left, right, lambda a, b: a + b, "op_Addition")


def subtract(left: Any, right: Any) -> Any:
    if isinstance(left, dt.datetime) and isinstance(right, dt.datetime):
        return _naive(left) - _naive(right)
    return _arith(left, right, lambda a, b: a - b, "op_Subtraction")


def multiply(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        return left * int(to_number(right))
    if isinstance(left, list | tuple):
        return list(left) * int(to_number(right))
    return _arith(left, right, lambda a, b: a * b, "op_Multiply")


def divide(left: Any, right: Any) -> Any:
    a, b = _numbers(left, right, "op_Division")
    if b == 0:
        raise runtime_error(
            "Attempted to divide by zero.",
            "RuntimeException",
            category="NotSpecified",
            exception_type="System.DivideByZeroException",
        )
    if isinstance(a, int) and isinstance(b, int):
        return a // b if a % b == 0 else a / b
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return decimal.Decimal(a) / decimal.Decimal(b)
    return a / b


def modulo(left: Any, right: Any) -> Any:
    a, b = _numbers(left, right, "op_Modulus")
    if b == 0:
        raise runtime_error(
            "Attempted to divide by zero.",
            "RuntimeException",
            category="NotSpecified",
            exception_type="System.DivideByZeroException",
        )
    result = abs(a) % abs(b)
    return -result if a < 0 else result


def _numbers(left: Any, right: Any, op: str) -> tuple[Any, Any]:
    if isinstance(left, list | tuple | Hashtable) or (
        left is not None and not isinstance(left, int | float | str | decimal.Decimal)
    ):
        raise runtime_error(
            f"Method invocation failed because [{type_name_of(left)}] does not contain a "
            f"method named '{op}'.",
            "MethodNotFound",
        )
    return to_number(left), to_number(right)


def _arith(left: Any, right: Any, fn: Callable[[Any, Any], Any], op: str) -> Any:
    a, b = _numbers(left, right, op)
    if isinstance(a, decimal.Decimal) != isinstance(b, decimal.Decimal):
        a, b = decimal.Decimal(str(a)), decimal.Decimal(str(b))
    return fn(a, b)


def negate(value: Any) -> Any:
    number = to_number(value)
    return -number


def range_values(start: Any, end: Any) -> list[int]:
    a, b = int(to_number(start)), int(to_number(end))
    step = 1 if b >= a else -1
    if abs(b - a) > 50_000_000:
        raise runtime_error("The range is too large.", "RangeTooLarge")
    return list(range(a, b + step, step))


def is_type(value: Any, type_name: str) -> bool:
    return is_instance(value, type_name)
