"""Addresses the tenant does not know: a clear error with a "did you mean", never "0 rights".

A lookup that answers "nobody" for a misspelt address is wrong in the worst way: it looks
like an answer. Every command that takes a mailbox or user address checks it against the
tenant (or the snapshot it answers from) and refuses an unknown one with exit 2, naming the
closest known address when one is close.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence

from toolkit.core.errors import InputError

SIMILARITY = 0.8  # difflib ratio: one or two letters off in an address
MAX_SHOWN = 50


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


def _guess(name: str, known: Iterable[str]) -> str:
    """``; did you mean <closest>?`` when a known address is close, else nothing."""
    guess = closest(name, known)
    return f"; did you mean {guess}?" if guess else ""


def unknown_address(what: str, name: str, where: str, known: Iterable[str], *,
                    hint: str | None = None) -> InputError:
    """``no mailbox nosuch@contoso.com in contoso.onmicrosoft.com; did you mean ...?``"""
    return InputError(f"no {what} {name} in {where}{_guess(name, known)}",
                      hint=hint or f"Check the {what}'s address.")


def refuse_names(what: str, names: Sequence[str], where: str,
                 known: Callable[[], Iterable[str]], *, hint: str | None = None) -> None:
    """Refuse addresses given on the command line that ``where`` does not know (``names``,
    none when all are known): one as :func:`unknown_address`, several listed."""
    if not names:
        return
    candidates = list(known())
    if len(names) == 1:
        raise unknown_address(what, names[0], where, candidates, hint=hint)
    raise tenant_problems(where, [f"no {what} {name}{_guess(name, candidates)}"
                                  for name in names],
                          hint=hint or f"Check the {what}s' addresses.")


def tenant_problems(source: str, problems: Sequence[str], *,
                    hint: str = "Fix the addresses listed and run again.") -> InputError:
    """Rows the tenant refuses (unknown addresses): the whole input is refused, exit 2."""
    shown = "\n".join(f"  {p}" for p in problems[:MAX_SHOWN])
    more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
    return InputError(f"{source}: {len(problems)} problem(s) in the tenant, nothing was "
                      f"changed:\n{shown}{more}", hint=hint)


def refuse_rows(source: str, missing: Sequence[tuple[str, str, str]],
                known: Callable[[], Iterable[str]], *,
                hint: str = "Fix the addresses listed and run again.") -> None:
    """Refuse the input when rows name addresses the tenant does not know, each given as
    ``(place, what, address)`` (``("f.csv:5: Mailbox", "mailbox", "x@contoso.com")``) and
    listed with the closest known address; ``known`` lists the tenant's addresses."""
    if not missing:
        return
    candidates = list(known())
    raise tenant_problems(source, [f"{place}: no {what} {name}{_guess(name, candidates)}"
                                   for place, what, name in missing], hint=hint)


def refuse_unknown(source: str, what: str, column: str, rows: Sequence[tuple[int, str]],
                   exists: set[str], known: Callable[[], Iterable[str]]) -> None:
    """Refuse the input when any row's address (``(line, address)``) is not in ``exists``
    (case-folded); ``known`` lists the tenant's addresses for the suggestions."""
    refuse_rows(source, [(f"line {line}: {column}", what, name) for line, name in rows
                         if name.casefold() not in exists], known)
