"""tree-sitter-powershell front end: source text -> syntax tree, or a ParseException.

Grammar gaps are handled here rather than mis-run later:

- a range that starts with a number (``1..$n``) parses as a command named ``1..$n``: a
  space is inserted before ``..`` and the text reparsed;
- a param() block, or a switch clause, followed by code on the same line is rejected: a
  ``;`` is inserted;
- a parameter name ending in a digit (``-CustomAttribute1``) parses as ``-CustomAttribute``
  and a broken redirection ``1>`` (or an ERROR holding ``1``): :func:`is_digit_suffix`
  lets the compiler join the name again.

Any other ERROR or MISSING node becomes a ParseException with the line and column of the
first one (a missing closer at its opener, as PowerShell reports it).
"""

from __future__ import annotations

import re

import tree_sitter
import tree_sitter_powershell

from toolkit.sandbox.pwsh.errors import ParseException, UnsupportedConstruct

_LANGUAGE = tree_sitter.Language(tree_sitter_powershell.language())
_NUMERIC_RANGE = re.compile(rb"^[0-9]+(\.[0-9]+)?\.\.")


def parse(source: str) -> tuple[tree_sitter.Node, bytes]:
    """The root node and the (possibly repaired) UTF-8 source it points into."""
    if "\0" in source:
        index = source.index("\0")
        line = source.count("\n", 0, index) + 1
        raise ParseException(
            "A script cannot contain a NUL character.", line, index - source.rfind("\n", 0, index)
        )
    # tree-sitter-powershell wants a line end after a trailing param() block.
    data = (source if source.endswith("\n") else source + "\n").encode("utf-8")
    parser = tree_sitter.Parser(_LANGUAGE)
    for _ in range(100):
        tree = parser.parse(data)
        offset = _numeric_range_command(tree.root_node)
        if offset is not None:
            data = data[:offset] + b" " + data[offset:]
            continue
        span = _upper_case_multiplier(tree.root_node, data)
        if span is not None:
            start, end = span
            data = data[:start] + data[start:end].lower() + data[end:]
            continue
        if not tree.root_node.has_error:
            break
        offset = _keyword_command(tree.root_node)
        if offset is not None:
            data = data[:offset] + b"& " + data[offset:]
            continue
        offset = _inline_param_block(tree.root_node)
        if offset is None:
            offset = _inline_switch_clause(tree.root_node)
        if offset is None:
            break
        data = data[:offset] + b";" + data[offset:]
    root = tree.root_node
    if root.has_error and not _blank(root):
        _raise_first_error(root)
    return root, data


_CLOSERS = {
    "}": (
        "{@{",
        "Missing closing '}' in statement block or type definition.",
        "MissingEndCurlyBrace",
    ),
    ")": ("(@($(", "Missing closing ')' in expression.", "MissingEndParenthesisInExpression"),
    "]": ("[", "Missing ']' at the end of an index or type expression.", "MissingEndSquareBracket"),
}


def _missing(node: tree_sitter.Node) -> ParseException:
    """A MISSING token; a missing closer is reported where its opener stands, as PowerShell
    does."""
    line, column = node.start_point
    closer = _CLOSERS.get(node.type)
    if closer is not None and node.parent is not None:
        openers, message, error_id = closer
        for sibling in node.parent.children:
            if sibling.type and sibling.type in openers and sibling.start_byte < node.start_byte:
                line, column = sibling.start_point
                break
        return ParseException(message, line + 1, column + 1, error_id)
    return ParseException(
        f"Missing '{node.type}' in statement or expression.", line + 1, column + 1, "MissingToken"
    )


def _first_token(node: tree_sitter.Node) -> tree_sitter.Node:
    """The first leaf of ``node`` that is neither a comment nor white space."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "comment":
            continue
        if current.child_count == 0 and (current.text or b"").strip():
            return current
        stack.extend(reversed(current.children))
    return node


def _blank(root: tree_sitter.Node) -> bool:
    """Only comments and white space (tree-sitter reports such a script as an ERROR)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "comment":
            continue
        if node.child_count == 0 and (node.text or b"").strip():
            return False
        stack.extend(node.children)
    return True


_KEYWORDS = frozenset(
    {
        "foreach",
        "for",
        "do",
        "while",
        "until",
        "if",
        "switch",
        "function",
        "filter",
        "try",
        "trap",
        "data",
        "return",
        "throw",
        "exit",
        "break",
        "continue",
        "param",
        "begin",
        "process",
        "end",
        "class",
        "enum",
    }
)


def _keyword_command(root: tree_sitter.Node) -> int | None:
    """Start of a command named like ``ForEach-Object`` that begins a statement.

    The grammar lexes its first part as the ``foreach`` keyword; calling it with ``&``
    (same command, same arguments) parses.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" and node.child_count >= 2:
            first, second = node.children[0], node.children[1]
            if (
                first.type.casefold() in _KEYWORDS
                and second.type == "-"
                and first.end_byte == second.start_byte
            ):
                return first.start_byte
        stack.extend(node.children)
    return None


def _inline_switch_clause(root: tree_sitter.Node) -> int | None:
    """End of a switch clause's block followed by another clause on the same line.

    ``switch ($x) { 1 { 'a' } default { 'b' } }`` parses once a ``;`` separates clauses.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if (
            node.type == "ERROR"
            and node.parent is not None
            and node.parent.type == "switch_clause"
            and node.children
            and node.children[0].type == "statement_block"
        ):
            return node.children[0].end_byte
        stack.extend(node.children)
    return None


def _inline_param_block(root: tree_sitter.Node) -> int | None:
    """End of a param() block the grammar rejects because code follows on its line.

    ``function F { param($x) $x }`` is valid PowerShell; tree-sitter-powershell accepts it
    once a ``;`` separates the two, which changes no line number.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR":
            for child in node.children:
                if child.type == "param_block":
                    return child.end_byte
        stack.extend(node.children)
    return None


_MULTIPLIED = re.compile(rb"^[0-9]+(\.[0-9]+)?(kb|mb|gb|tb|pb)$", re.IGNORECASE)
_MULTIPLIER = re.compile(rb"^(kb|mb|gb|tb|pb)$", re.IGNORECASE)


def _upper_case_multiplier(root: tree_sitter.Node, data: bytes) -> tuple[int, int] | None:
    """Bytes of a numeric multiplier the grammar only knows in lower case (``3GB``).

    PowerShell accepts any case; lower-casing the suffix keeps every offset.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        text = node.text or b""
        if node.type == "command_name" and _MULTIPLIED.match(text) and text != text.lower():
            return node.end_byte - 2, node.end_byte
        if (
            node.type == "ERROR"
            and _MULTIPLIER.match(text)
            and node.start_byte > 0
            and data[node.start_byte - 1 : node.start_byte].isdigit()
        ):
            return node.start_byte, node.end_byte
        stack.extend(node.children)
    return None


def _numeric_range_command(root: tree_sitter.Node) -> int | None:
    """Byte offset where ``..`` follows a number that tree-sitter took for a command name."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "command_name":
            match = _NUMERIC_RANGE.match(node.text or b"")
            if match:
                return node.start_byte + match.end() - 2
            continue
        stack.extend(node.children)
    return None


def is_digit_suffix(node: tree_sitter.Node) -> bool:
    """The digits of a parameter name the grammar cut off (``-CustomAttribute`` + ``1``)."""
    if node.type not in ("redirection", "ERROR"):
        return False
    previous = node.prev_sibling
    return (
        previous is not None
        and previous.type == "command_parameter"
        and previous.end_byte == node.start_byte
        and (node.text or b"").isdigit()
    )


def _raise_first_error(root: tree_sitter.Node) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if is_digit_suffix(node):
            continue
        if node.is_missing and not (node.parent and node.parent.type == "empty_statement"):
            raise _missing(node)
        if node.type == "ERROR":
            labeled = [c.type for c in node.children[:2]]
            if (
                len(labeled) == 2
                and labeled[0] in ("break", "continue")
                and labeled[1]
                in (
                    "simple_name",
                    "generic_token",
                )
            ):
                line, column = node.start_point
                raise UnsupportedConstruct(
                    f"'{labeled[0]} <label>' (tree-sitter-powershell cannot parse it; "
                    "restructure the loop)",
                    line + 1,
                    column + 1,
                )
            first = _first_token(node)
            line, column = first.start_point
            text = (first.text or b"").decode("utf-8", "replace").strip().splitlines()
            token = text[0][:40] if text else ""
            raise ParseException(
                f"Unexpected token '{token}' in expression or statement.",
                line + 1,
                column + 1,
                "UnexpectedToken",
            )
        stack.extend(reversed(node.children))
    # Only a zero-width ';' the grammar wants after a lone param() block: nothing wrong.
