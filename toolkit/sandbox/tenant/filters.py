"""The filter languages the emulated cmdlets accept, in the subsets scripts commonly use.

- Exchange OPATH (``-Filter "RecipientTypeDetails -eq 'SharedMailbox'"``): comparisons
  ``-eq -ne -like -notlike`` against quoted strings, numbers, ``$true``, ``$false`` and
  ``$null``, combined with ``-and``, ``-or``, ``-not`` and parentheses. Surrounding braces
  (a script block) are accepted. A cmdlet may add filterable properties its output objects
  do not show (``MemberOfGroup`` and ``Members`` of Get-Recipient, which take a group's or a
  member's distinguished name).
- Graph OData (``-Filter "accountEnabled eq false"``): ``eq``/``ne`` against strings,
  booleans and ``null``, ``startswith(prop,'x')``, ``assignedLicenses/$count eq 0``,
  ``assignedLicenses/any(x:x/skuId eq <guid>)``, ``and``, ``or``, parentheses.

Anything else is refused with the service's own error, never silently ignored.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from typing import Any

from toolkit.sandbox.tenant import errors
from toolkit.sandbox.values import PSObject

Predicate = Callable[[PSObject], bool]
# Filterable properties an output object does not carry, by case-folded name.
Computed = Mapping[str, Callable[[PSObject], Any]]

_OPATH_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<op>-(?:eq|ne|like|notlike|and|or|not)\b)"
    r"|'(?P<sq>(?:[^']|'')*)'|\"(?P<dq>[^\"]*)\"|(?P<var>\$(?:true|false|null)\b)"
    r"|(?P<word>[A-Za-z0-9_.@-]+))",
    re.IGNORECASE,
)
_ODATA_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|'(?P<sq>(?:[^']|'')*)'"
    r"|(?P<word>[A-Za-z0-9_./@$:-]+))",
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def _tokens(pattern: re.Pattern[str], text: str, fail: Callable[[str], Exception]
            ) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = pattern.match(text, position)
        if match is None or match.end() == position:
            raise fail(text)
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "sq":
            value = value.replace("''", "'")
        result.append((kind, value))
        position = match.end()
    return result


def _property(obj: PSObject, name: str) -> Any:
    if name not in obj.properties:
        raise KeyError(name)
    return obj.properties[name]


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "" if value is None else str(value)


# ---------------------------------------------------------------------- OPATH


def _opath_error(text: str) -> errors.TenantError:
    return errors.invalid_argument(
        f'Cannot bind parameter \'Filter\' to the target. Exception setting "Filter": '
        f'"Invalid filter syntax. For a description of the filter parameter syntax see the '
        f'command help. "{text}" at position 1." (The sandbox supports comparisons with -eq, '
        "-ne, -like and -notlike combined with -and, -or and -not.)"
    )


def opath(text: str, computed: Computed | None = None) -> Predicate:
    """Compile an OPATH filter against output objects' properties and ``computed`` ones."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    tokens = _tokens(_OPATH_TOKEN, body, _opath_error)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise _opath_error(text)
        position += 1
        return tokens[position - 1]

    def is_op(token: tuple[str, str] | None, name: str) -> bool:
        return token is not None and token[0] == "op" and token[1].casefold() == name

    def expression() -> Predicate:
        left = term()
        while is_op(peek(), "-or"):
            take()
            right = term()
            left = (lambda a, b: lambda o: a(o) or b(o))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while is_op(peek(), "-and"):
            take()
            right = factor()
            left = (lambda a, b: lambda o: a(o) and b(o))(left, right)
        return left

    def factor() -> Predicate:
        token = take()
        if token[0] == "op" and token[1].casefold() == "-not":
            inner = factor()
            return lambda o: not inner(o)
        if token[0] == "lp":
            inner = expression()
            if take()[0] != "rp":
                raise _opath_error(text)
            return inner
        if token[0] != "word":
            raise _opath_error(text)
        name = token[1]
        operator = take()
        if operator[0] != "op" or operator[1].casefold() not in ("-eq", "-ne", "-like",
                                                                 "-notlike"):
            raise _opath_error(text)
        kind, raw = take()
        if kind not in ("sq", "dq", "var", "word"):
            raise _opath_error(text)
        literal: Any = raw
        if kind == "var":
            literal = {"$true": True, "$false": False, "$null": None}[raw.casefold()]
        return _comparison(name, operator[1].casefold(), literal, text, computed or {})

    predicate = expression()
    if position != len(tokens):
        raise _opath_error(text)
    return predicate


def _comparison(name: str, operator: str, literal: Any, text: str, computed: Computed
                ) -> Predicate:
    def matches_one(value: Any) -> bool:
        if operator in ("-like", "-notlike"):
            return fnmatch.fnmatchcase(_as_text(value).casefold(), _as_text(literal).casefold())
        if literal is None:
            return value is None or value == "" or value == []
        if isinstance(literal, bool):
            return bool(value) is literal
        return _as_text(value).casefold() == _as_text(literal).casefold()

    def check(obj: PSObject) -> bool:
        try:
            value = (computed[name.casefold()](obj) if name.casefold() in computed
                     else _property(obj, name))
        except KeyError:
            raise errors.invalid_argument(
                f"Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": "
                f"\"The property '{name}' isn't filterable. (filter: {text})\""
            ) from None
        values = value if isinstance(value, list) else [value]
        found = any(matches_one(v) for v in values) if values else matches_one(None)
        return not found if operator in ("-ne", "-notlike") else found

    return check


# ---------------------------------------------------------------------- OData


def _member(item: Any, name: str) -> Any:
    if isinstance(item, PSObject):
        for key in item.properties:
            if key.casefold() == name.casefold():
                return item.properties[key]
    return None


def _odata_error(text: str) -> errors.TenantError:
    return errors.graph_bad_request(f"Invalid filter clause: {text}")


def odata(text: str, *, advanced: bool = False, properties: dict[str, str]) -> Predicate:
    """Compile a Graph ``$filter``; ``properties`` maps OData names to object properties.

    ``ne`` needs advanced query capabilities (``-ConsistencyLevel eventual``), as in Graph.
    """
    tokens = _tokens(_ODATA_TOKEN, text, _odata_error)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise _odata_error(text)
        position += 1
        return tokens[position - 1]

    def is_word(token: tuple[str, str] | None, word: str) -> bool:
        return token is not None and token[0] == "word" and token[1].casefold() == word

    def prop(name: str) -> str:
        mapped = properties.get(name.casefold())
        if mapped is None:
            raise errors.graph_bad_request(
                f"Unsupported or invalid query filter clause specified for property '{name}' "
                "of resource 'User'."
            )
        return mapped

    def expression() -> Predicate:
        left = term()
        while is_word(peek(), "or"):
            take()
            right = term()
            left = (lambda a, b: lambda o: a(o) or b(o))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while is_word(peek(), "and"):
            take()
            right = factor()
            left = (lambda a, b: lambda o: a(o) and b(o))(left, right)
        return left

    def literal() -> Any:
        kind, raw = take()
        if kind == "sq":
            return raw
        if kind == "word" and raw in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[raw]
        if kind == "word" and (raw.isdigit() or _GUID.match(raw)):
            return int(raw) if raw.isdigit() else raw
        raise _odata_error(text)

    def needs_advanced(clause: str) -> None:
        if not advanced:
            raise errors.graph_bad_request(
                f"Unsupported or invalid query filter clause specified for property "
                f"'{clause}' of resource 'User'. (Counting and 'ne' need -ConsistencyLevel "
                "eventual and -CountVariable.)")

    def collection(word: str) -> Predicate:
        """``assignedLicenses/$count eq 0`` and ``assignedLicenses/any(x:x/skuId eq <id>)``."""
        base, _, operation = word.partition("/")
        name = prop(base)
        if operation.casefold() == "$count":
            needs_advanced(word)
            operator, value = take()[1].casefold(), literal()
            if operator not in ("eq", "ne") or not isinstance(value, int):
                raise _odata_error(text)
            return lambda o: (len(o.properties.get(name) or []) == value) == (operator == "eq")
        if operation.casefold() != "any" or take()[0] != "lp":
            raise _odata_error(text)
        variable, _, field = take()[1].partition(":")
        member = field.removeprefix(f"{variable}/")
        if take()[1].casefold() != "eq":
            raise _odata_error(text)
        wanted = str(literal()).casefold()
        if take()[0] != "rp":
            raise _odata_error(text)

        def has(obj: PSObject) -> bool:
            items = obj.properties.get(name) or []
            return any(_as_text(_member(item, member)).casefold() == wanted for item in items)

        return has

    def factor() -> Predicate:
        token = take()
        if token[0] == "lp":
            inner = expression()
            if take()[0] != "rp":
                raise _odata_error(text)
            return inner
        if token[0] != "word":
            raise _odata_error(text)
        if token[1].casefold() == "startswith":
            if take()[0] != "lp":
                raise _odata_error(text)
            name = prop(take()[1])
            if take()[0] != "comma":
                raise _odata_error(text)
            prefix = str(literal()).casefold()
            if take()[0] != "rp":
                raise _odata_error(text)
            return lambda o: _as_text(o.properties.get(name)).casefold().startswith(prefix)
        if "/" in token[1]:
            return collection(token[1])
        name = prop(token[1])
        operator = take()[1].casefold()
        if operator not in ("eq", "ne"):
            raise _odata_error(text)
        if operator == "ne":
            needs_advanced(token[1])
        value = literal()

        def equal(obj: PSObject) -> bool:
            actual = obj.properties.get(name)
            if isinstance(value, bool) or value is None:
                return actual is value
            return _as_text(actual).casefold() == str(value).casefold()

        return equal if operator == "eq" else (lambda o: not equal(o))

    predicate = expression()
    if position != len(tokens):
        raise _odata_error(text)
    return predicate
