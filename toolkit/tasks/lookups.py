"""Addresses the tenant does not know: a clear error with a "did you mean", never "0 rights".

A lookup that answers "nobody" for a misspelt address is wrong in the worst way: it looks
like an answer. Every command that takes a mailbox or user address checks it against the
tenant (or the snapshot it answers from) and refuses an unknown one with exit 2, naming the
closest known address when one is close.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from toolkit.core.errors import InputError

SIMILARITY = 0.8  # difflib ratio: one or two letters off in an address


def _likeness(name: str, known: str) -> float:
    """How alike two addresses are; on one domain only their local parts count (else
    every address of the domain would look like every other)."""
    local, _, domain = name.partition("@")
    known_local, _, known_domain = known.partition("@")
    if domain and domain == known_domain:
        name, known = local, known_local
    return difflib.SequenceMatcher(None, name, known).ratio()


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known address most like ``name`` (case-insensitive), if one is close."""
    scored = [(_likeness(name.casefold(), k.casefold()), k) for k in set(known) if k]
    best = max(scored, default=(0.0, ""))
    return best[1] if best[0] >= SIMILARITY else None


def unknown_address(what: str, name: str, where: str, known: Iterable[str], *,
                    hint: str | None = None) -> InputError:
    """``no mailbox nosuch@contoso.com in contoso.onmicrosoft.com; did you mean ...?``"""
    guess = closest(name, known)
    message = f"no {what} {name} in {where}" + (f"; did you mean {guess}?" if guess else "")
    return InputError(message, hint=hint or f"Check the {what}'s address.")
