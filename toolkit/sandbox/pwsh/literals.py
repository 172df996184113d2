"""Decoding PowerShell literals: quoted strings (with Unicode quotation marks), escapes,
here-strings and numbers.

PowerShell treats U+2018..U+201B as single quotes and U+201C..U+201E as double quotes;
tree-sitter-powershell only knows the ASCII ones, so a lone Unicode quotation mark that
would end a string in PowerShell is reported as a parse error here instead of running
differently.
"""

from __future__ import annotations

import decimal
import re
from typing import Any

from toolkit.sandbox.pwsh.errors import ParseException

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
DOUBLE_QUOTES = '"\u201c\u201d\u201e'
_QUOTE_PAIR = re.compile(f"[{SINGLE_QUOTES}][{SINGLE_QUOTES}]")
_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
_BACKTICK = re.compile(r"`u\{([0-9a-fA-F]{1,6})\}|`(.)|`$", re.DOTALL)
_NUMBER = re.compile(
    r"^(0x[0-9a-f]+|\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)(l|d|u|ul)?"
    r"(kb|mb|gb|tb|pb)?$",
    re.IGNORECASE,
)
_MULTIPLIERS = {"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}


def expand_escapes(text: str) -> str:
    def swap(match: re.Match[str]) -> str:
        if match.group(1):
            return chr(int(match.group(1), 16))
        char = match.group(2)
        if char is None:
            return ""
        return _ESCAPES.get(char, char)

    return _BACKTICK.sub(swap, text)


def parse_number(text: str) -> Any:
    """A numeric literal's value (suffixes l, d, kb..pb), or None when not one."""
    match = _NUMBER.match(text.strip())
    if not match:
        return None
    digits, suffix, multiplier = match.groups()
    value: Any
    if digits.lower().startswith("0x"):
        value = int(digits, 16)
    elif re.fullmatch(r"\d+", digits):
        value = int(digits)
    else:
        value = float(digits)
    if suffix and suffix.lower() == "d":
        value = decimal.Decimal(digits)
    if multiplier:
        value = value * _MULTIPLIERS[multiplier.lower()]
    return value


def verbatim(body: str, line: int, column: int) -> str:
    """The value of a single-quoted string's body: doubled quote characters collapse."""
    value = _QUOTE_PAIR.sub(lambda m: m.group(0)[1], body)
    if any(q in value for q in SINGLE_QUOTES[1:]) and _lone_quote(body, SINGLE_QUOTES):
        raise ParseException(
            "A single Unicode quotation mark inside a single-quoted string ends the string in "
            "PowerShell; double it.",
            line,
            column,
            "TerminatorExpectedAtEndOfString",
        )
    return value


def _lone_quote(body: str, quotes: str) -> bool:
    index = 0
    while index < len(body):
        if body[index] in quotes:
            if index + 1 < len(body) and body[index + 1] in quotes:
                index += 2
                continue
            return True
        index += 1
    return False


def here_body(text: str) -> str:
    first = text.find("\n")
    last = text.rfind("\n")
    if first == -1 or first == last:
        return ""
    body = text[first + 1 : last]
    return body.removesuffix("\r")


def literal_segment(text: str, here: bool, line: int, column: int) -> str:
    """Literal text of an expandable string: doubled quotes collapse, backticks escape.

    A lone Unicode double quotation mark would end the string in PowerShell while
    tree-sitter keeps going, so it is a parse error rather than a silent difference.
    """
    if here:
        return expand_escapes(text)
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "`" and index + 1 < len(text):
            out.append(text[index : index + 2])
            index += 2
            continue
        if char in DOUBLE_QUOTES:
            if index + 1 < len(text) and text[index + 1] in DOUBLE_QUOTES:
                out.append("`" + text[index + 1])
                index += 2
                continue
            raise ParseException(
                "A single quotation mark inside a double-quoted string ends the string in "
                "PowerShell; double it or escape it with a backtick.",
                line,
                column,
                "TerminatorExpectedAtEndOfString",
            )
        out.append(char)
        index += 1
    return expand_escapes("".join(out))
