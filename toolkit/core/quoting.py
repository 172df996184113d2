"""The one place that turns a Python value into PowerShell source text.

Row data normally travels as PSRP parameters and never becomes script text. This module
serves the two places where a value must be written into a script: the ``|ps`` filter of
the template engine and ``--export`` (a standalone script for review or for running by
hand). Strings become single-quoted literals, where nothing is interpolated, with every
character PowerShell's tokenizer treats as a single quote doubled: the ASCII apostrophe
and U+2018, U+2019, U+201A, U+201B. Doubling keeps the second character, so the literal
reads back exactly.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_QUOTE_RE = re.compile(f"([{SINGLE_QUOTES}])")


class PSLiteral(str):
    """PowerShell source text produced by :func:`ps_quote`: safe to print into a script."""

    __slots__ = ()


class UnquotableValue(TypeError):
    """A value with no faithful PowerShell literal form."""


def _quote_str(value: str) -> str:
    doubled = _QUOTE_RE.sub(r"\1\1", value)
    if "\0" not in doubled:
        return f"'{doubled}'"
    # A NUL cannot stand inside a script's text (parsers stop at it), so splice it in.
    parts = [f"'{part}'" for part in doubled.split("\0")]
    return "(" + " + [char]0 + ".join(parts) + ")"


def ps_quote(value: Any) -> PSLiteral:
    """Return PowerShell source that evaluates to ``value``.

    str -> ``'...'``; bool -> ``$true``/``$false``; None -> ``$null``; int -> digits;
    float -> ``[double]'...'``; list/tuple -> ``@(...)``; mapping -> ``@{'k' = ...}``;
    UUID -> ``[guid]'...'``; datetime -> ``[datetime]'ISO 8601'``; bytes -> ``[byte[]]@(...)``.
    """
    return PSLiteral(_quote(value))


def _quote(value: Any) -> str:
    if isinstance(value, PSLiteral):
        return value
    if value is None:
        return "$null"
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnquotableValue(f"{value!r} has no PowerShell literal")
        return f"[double]'{value!r}'"
    if isinstance(value, str):
        return _quote_str(value)
    if isinstance(value, uuid.UUID):
        return f"[guid]'{value}'"
    if isinstance(value, dt.datetime):
        return f"[datetime]'{value.isoformat()}'"
    if isinstance(value, bytes | bytearray):
        return "[byte[]]@(" + ",".join(str(b) for b in value) + ")"
    if isinstance(value, Mapping):
        items = "; ".join(f"{_quote(str(k))} = {_quote(v)}" for k, v in value.items())
        return "@{" + items + "}"
    if isinstance(value, list | tuple):
        if len(value) == 1 and isinstance(value[0], list | tuple):
            # @(@(1,2)) would unroll the inner array; the unary comma keeps it whole.
            return "@(," + _quote(value[0]) + ")"
        return "@(" + ", ".join(_quote(v) for v in value) + ")"
    raise UnquotableValue(f"cannot write a {type(value).__name__} as a PowerShell literal")
