""".NET composite formatting (``-f``, ``.ToString('N2')``) and date format strings."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

from toolkit.sandbox.pwsh.coercion import to_string
from toolkit.sandbox.pwsh.errors import runtime_error

# Longest tokens first so 'yyyy' wins over 'yy'.
_DATE_TOKENS = re.compile(
    r"yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|fffffff|ffffff|fff|ff|f|tt|zzz|K"
    r"|'[^']*'|\"[^\"]*\"|\\.|."
)

_STANDARD_DATE = {
    "d": "MM/dd/yyyy",
    "D": "dddd, dd MMMM yyyy",
    "s": "yyyy-MM-ddTHH:mm:ss",
    "u": "yyyy-MM-dd HH:mm:ssZ",
    "o": "yyyy-MM-ddTHH:mm:ss.fffffffK",
    "O": "yyyy-MM-ddTHH:mm:ss.fffffffK",
    "g": "MM/dd/yyyy HH:mm",
    "G": "MM/dd/yyyy HH:mm:ss",
    "t": "HH:mm",
    "T": "HH:mm:ss",
}


def format_date(value: dt.datetime, fmt: str) -> str:
    """A .NET custom or standard DateTime format string, invariant culture."""
    fmt = _STANDARD_DATE.get(fmt, fmt)
    out: list[str] = []
    for token in _DATE_TOKENS.findall(fmt):
        out.append(_date_token(value, token))
    return "".join(out)


def _date_token(v: dt.datetime, token: str) -> str:
    table = {
        "yyyy": f"{v.year:04d}",
        "yy": f"{v.year % 100:02d}",
        "MMMM": v.strftime("%B"),
        "MMM": v.strftime("%b"),
        "MM": f"{v.month:02d}",
        "M": str(v.month),
        "dddd": v.strftime("%A"),
        "ddd": v.strftime("%a"),
        "dd": f"{v.day:02d}",
        "d": str(v.day),
        "HH": f"{v.hour:02d}",
        "H": str(v.hour),
        "hh": f"{(v.hour % 12) or 12:02d}",
        "h": str((v.hour % 12) or 12),
        "mm": f"{v.minute:02d}",
        "m": str(v.minute),
        "ss": f"{v.second:02d}",
        "s": str(v.second),
        "tt": "AM" if v.hour < 12 else "PM",
    }
    if token in table:
        return table[token]
    if token.startswith("f"):
        return f"{v.microsecond:06d}0"[: len(token)]
    if token in ("zzz", "K"):
        offset = v.utcoffset()
        if offset is None:
            return "" if token == "K" else "+00:00"
        if token == "K" and offset == dt.timedelta(0):
            return "Z"
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if token[0] in "'\"" and len(token) >= 2:
        return token[1:-1]
    if token.startswith("\\"):
        return token[1:]
    return token


def format_value(value: Any, spec: str) -> str:
    """One value with a .NET format specifier (``N2``, ``D4``, ``X``, ``P1``, dates)."""
    if not spec:
        return to_string(value)
    if isinstance(value, dt.datetime):
        return format_date(value, spec)
    if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal):
        return to_string(value)
    kind, digits = spec[0].upper(), spec[1:]
    if isinstance(value, float):
        value = decimal.Decimal(repr(value))
    if kind in "NDXFPEC" and (digits == "" or digits.isdigit()):
        count = int(digits) if digits else None
        if kind == "N":
            return f"{_half_up(value, 2 if count is None else count):,}"
        if kind == "F":
            return str(_half_up(value, 2 if count is None else count))
        if kind == "D":
            return f"{int(value):0{count or 1}d}"
        if kind == "X":
            text = f"{int(value):0{count or 1}x}"
            return text.upper() if spec[0] == "X" else text
        if kind == "P":
            return f"{_half_up(value * 100, 2 if count is None else count):,}%"
        if kind == "E":
            return f"{value:.{6 if count is None else count}E}"
        if kind == "C":
            return f"¤{value:,.{2 if count is None else count}f}"
    return _custom_number(value, spec)


def _half_up(value: Any, digits: int) -> decimal.Decimal:
    """.NET rounds formatted numbers half away from zero."""
    exponent = decimal.Decimal(1).scaleb(-digits)
    return decimal.Decimal(value).quantize(exponent, rounding=decimal.ROUND_HALF_UP)


def _custom_number(value: Any, spec: str) -> str:
    """Custom numeric formats made of 0, #, ',' and '.' only (e.g. ``0.00``, ``#,##0``)."""
    if not re.fullmatch(r"[0#,]*(\.[0#]*)?", spec):
        raise runtime_error(
            f"The format '{spec}' is not supported by the sandbox engine.",
            "FormatNotSupported",
            exception_type="System.FormatException",
        )
    integer, _, fraction = spec.partition(".")
    decimals = len(fraction)
    min_decimals = fraction.count("0") if fraction.startswith("0") else len(fraction.rstrip("#"))
    grouping = "," in integer
    min_int = integer.replace(",", "").count("0")
    text = format(_half_up(abs(value), decimals), "," if grouping else "")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(min_decimals, "0") if decimals else ""
    if whole in ("0", "") and min_int == 0:
        whole = ""
    whole = whole.rjust(min_int, "0")
    sign = "-" if value < 0 and (whole.strip("0,") or frac.strip("0")) else ""
    return sign + whole + ("." + frac if frac else "")


_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:\s*,\s*(-?\d+))?(?::([^}]*))?\}|[{}]")


def composite_format(fmt: str, args: list[Any]) -> str:
    """``'{0} and {1:N2}' -f $a, $b``."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        if match.group(1) is None:
            raise runtime_error(
                f'Error formatting a string: Input string was not in a correct format.: "{fmt}"',
                "FormatError",
                exception_type="System.FormatException",
            )
        index = int(match.group(1))
        if index >= len(args):
            raise runtime_error(
                "Error formatting a string: Index (zero based) must be greater than or equal "
                f'to zero and less than the size of the argument list.: "{fmt}"',
                "FormatError",
                exception_type="System.FormatException",
            )
        text = format_value(args[index], match.group(3) or "")
        width = match.group(2)
        if width:
            size = int(width)
            text = text.ljust(-size) if size < 0 else text.rjust(size)
        return text

    return _ITEM.sub(replace, fmt)
