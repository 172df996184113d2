"""tree-sitter-powershell front end: source text -> syntax tree, or a ParseException.

Two grammar gaps are handled here rather than mis-run later: a range that starts with a
number (``1..$n``) parses as a command named ``1..$n``, so a space is inserted before
``..`` and the text reparsed; ERROR and MISSING nodes become a ParseException carrying
the line and column of the first one.
"""

from __future__ import annotations

import re

import tree_sitter
import tree_sitter_powershell

from toolkit.sandbox.pwsh.errors import ParseException

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
    data = source.encode("utf-8")
    parser = tree_sitter.Parser(_LANGUAGE)
    for _ in range(100):
        tree = parser.parse(data)
        offset = _numeric_range_command(tree.root_node)
        if offset is None:
            break
        data = data[:offset] + b" " + data[offset:]
    root = tree.root_node
    if root.has_error:
        _raise_first_error(root)
    return root, data


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


def _raise_first_error(root: tree_sitter.Node) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing:
            line, column = node.start_point
            raise ParseException(
                f"Missing '{node.type}' in statement or expression.",
                line + 1,
                column + 1,
                "MissingToken",
            )
        if node.type == "ERROR":
            line, column = node.start_point
            text = (node.text or b"").decode("utf-8", "replace").strip().splitlines()
            token = text[0][:40] if text else ""
            raise ParseException(
                f"Unexpected token '{token}' in expression or statement.",
                line + 1,
                column + 1,
                "UnexpectedToken",
            )
        stack.extend(reversed(node.children))
    line, column = root.start_point
    raise ParseException("The script could not be parsed.", line + 1, column + 1)
