"""Tenant and CSV strings as plain text, on a terminal and in HTML reports: nothing in
them can act.

A display name or address comes from whoever controls the tenant or the file. Printed as
is, ``[conceal]`` would be read as rich markup (hiding part of an address in a plan),
``[/x]`` would crash the table, and ESC, OSC or bidirectional-override characters would
drive the terminal or reorder a report's text. :func:`visible` shows every such character
as an escape (``\\x1b``, ``\\u202e``); the CLI's tables build their cells from it, never
parsed as markup, and the HTML reports escape what it returns.
"""

from __future__ import annotations

import unicodedata

# Unicode "format" characters that reorder or hide text (Trojan Source, CVE-2021-42574).
_BIDI_AND_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff")


def _shown(char: str) -> str:
    code = ord(char)
    if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
        return f"\\x{code:02x}"
    if char in _BIDI_AND_INVISIBLE:
        return f"\\u{code:04x}"
    return char


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with control, bidi and invisible characters shown as escapes; with
    ``newlines``, line breaks are kept (a multi-line message of psbridge's own)."""
    if text.isprintable():
        return text
    if newlines:
        return "\n".join(visible(line) for line in text.split("\n"))
    return "".join(_shown(c) for c in text)


def mixed_scripts(address: str) -> set[str]:
    """The scripts of an address's letters when it mixes them, e.g. {'LATIN', 'CYRILLIC'}
    for ``\u0430dmin@contoso.com`` with a Cyrillic a: a homoglyph look-alike. Empty when the
    letters come from one script."""
    scripts = set()
    for char in address:
        if char.isalpha():
            name = unicodedata.name(char, "")
            scripts.add(name.split(" ", 1)[0] if name else "UNKNOWN")
    return scripts if len(scripts) > 1 else set()
