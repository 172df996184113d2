"""The binary operators by token, with PowerShell's rules for collections on the left.

Comparison operators come in three spellings (``-eq``, ``-ieq`` case-insensitive, ``-ceq``
case-sensitive); with a collection on the left they filter it instead of answering.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from toolkit.sandbox.pwsh import operators as ops
from toolkit.sandbox.pwsh.coercion import is_instance, lookup_type, to_number, to_string
from toolkit.sandbox.pwsh.errors import PSError
from toolkit.sandbox.pwsh.members import TypeValue
from toolkit.sandbox.pwsh.runtime import Context
from toolkit.sandbox.values import Hashtable

Expr = Callable[[Context], Any]


def matches_table(found: re.Match[str]) -> Hashtable:
    table = Hashtable()
    table[0] = found.group(0)
    for index, group in enumerate(found.groups(), start=1):
        if group is not None:
            table[index] = group
    for name, group in found.groupdict().items():
        if group is not None:
            table[name] = group
    return table


def match_operator(op: str, left: Expr, right: Expr) -> Expr:
    case_sensitive = op.startswith("-c")
    negate = "not" in op

    def run(ctx: Context) -> Any:
        subject = left(ctx)
        pattern = right(ctx)
        if isinstance(subject, list | tuple):
            return [
                item
                for item in subject
                if (ops.match(item, pattern, case_sensitive) is not None) != negate
            ]
        found = ops.match(subject, pattern, case_sensitive)
        if found is not None:
            ctx.scope.vars["matches"] = matches_table(found)
        return (found is not None) != negate

    return run


def type_operator(op: str, left: Expr, right: Expr) -> Expr:
    def target_type(ctx: Context) -> str:
        value = right(ctx)
        name = value.full_name if isinstance(value, TypeValue) else to_string(value)
        found = lookup_type(name)
        return found[0] if found else name

    if op == "-is":
        return lambda ctx: is_instance(left(ctx), target_type(ctx))
    if op == "-isnot":
        return lambda ctx: not is_instance(left(ctx), target_type(ctx))

    def cast_as(ctx: Context) -> Any:
        found = lookup_type(target_type(ctx))
        if found is None:
            return None
        try:
            return found[1](left(ctx))
        except PSError:
            return None

    return cast_as


def _filtered(scalar: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    def op(left: Any, right: Any) -> Any:
        if isinstance(left, list | tuple):
            return [item for item in left if scalar(item, right)]
        return scalar(left, right)

    return op


def _collection_operators(prefix: str, cs: bool) -> dict[str, Callable[[Any, Any], Any]]:
    def contains(a: Any, b: Any) -> bool:
        return ops.contains(a, b, cs)

    def notcontains(a: Any, b: Any) -> bool:
        return not ops.contains(a, b, cs)

    def in_(a: Any, b: Any) -> bool:
        return ops.contains(b, a, cs)

    def notin(a: Any, b: Any) -> bool:
        return not ops.contains(b, a, cs)

    def replace(a: Any, b: Any) -> Any:
        return ops.replace(a, b, cs)

    def split(a: Any, b: Any) -> list[str]:
        return ops.split(a, b, cs)

    return {
        f"-{prefix}contains": contains,
        f"-{prefix}notcontains": notcontains,
        f"-{prefix}in": in_,
        f"-{prefix}notin": notin,
        f"-{prefix}replace": replace,
        f"-{prefix}split": split,
    }


def _comparisons() -> dict[str, Callable[[Any, Any], Any]]:
    table: dict[str, Callable[[Any, Any], Any]] = {}
    for prefix, cs in (("", False), ("i", False), ("c", True)):

        def eq(a: Any, b: Any, cs: bool = cs) -> bool:
            return ops.equals(a, b, cs)

        def ne(a: Any, b: Any, cs: bool = cs) -> bool:
            return not ops.equals(a, b, cs)

        def gt(a: Any, b: Any, cs: bool = cs) -> bool:
            return ops.compare(a, b, cs) > 0

        def ge(a: Any, b: Any, cs: bool = cs) -> bool:
            return ops.compare(a, b, cs) >= 0

        def lt(a: Any, b: Any, cs: bool = cs) -> bool:
            return ops.compare(a, b, cs) < 0

        def le(a: Any, b: Any, cs: bool = cs) -> bool:
            return ops.compare(a, b, cs) <= 0

        def like(a: Any, b: Any, cs: bool = cs) -> bool:
            return ops.like(a, b, cs)

        def notlike(a: Any, b: Any, cs: bool = cs) -> bool:
            return not ops.like(a, b, cs)

        for name, fn in (
            ("eq", eq),
            ("ne", ne),
            ("gt", gt),
            ("ge", ge),
            ("lt", lt),
            ("le", le),
            ("like", like),
            ("notlike", notlike),
        ):
            table[f"-{prefix}{name}"] = _filtered(fn)
        table.update(_collection_operators(prefix, cs))
    return table


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    **_comparisons(),
    "+": ops.add,
    "-": ops.subtract,
    "*": ops.multiply,
    "/": ops.divide,
    "%": ops.modulo,
    "-f": ops.format_operator,
    "-join": ops.join,
    "..": ops.range_values,
    "-band": lambda a, b: int(to_number(a)) & int(to_number(b)),
    "-bor": lambda a, b: int(to_number(a)) | int(to_number(b)),
    "-bxor": lambda a, b: int(to_number(a)) ^ int(to_number(b)),
}
