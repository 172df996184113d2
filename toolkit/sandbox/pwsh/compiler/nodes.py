"""Reading the syntax tree: node helpers and the base of the compiler's layers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import tree_sitter

from toolkit.sandbox.pwsh.errors import UnsupportedConstruct
from toolkit.sandbox.pwsh.runtime import Body, Context, Out, ParamDef

Node = tree_sitter.Node
Expr = Callable[[Context], Any]
Stmt = Callable[[Context, Out], None]

_WRAPPERS = frozenset(
    {
        "logical_expression",
        "bitwise_expression",
        "comparison_expression",
        "additive_expression",
        "multiplicative_expression",
        "format_expression",
        "range_expression",
        "array_literal_expression",
        "unary_expression",
        "argument_expression",
        "logical_argument_expression",
        "bitwise_argument_expression",
        "comparison_argument_expression",
        "additive_argument_expression",
        "multiplicative_argument_expression",
        "format_argument_expression",
        "range_argument_expression",
        "pipeline_chain",
        "key_expression",
        "switch_clause_condition",
    }
)


_CONSTRUCT_NAMES = {
    "class_statement": "class definitions",
    "enum_statement": "enum definitions",
    "trap_statement": "trap statements",
    "data_statement": "data sections",
    "parallel_statement": "parallel blocks",
    "sequence_statement": "sequence blocks",
    "inlinescript_statement": "InlineScript",
    "pipeline_chain_tail": "pipeline chain operators (&&, ||)",
    "file_redirection_operator": "redirection to a file",
    "stop_parsing": "the stop-parsing token (--%)",
    "verbatim_command_argument": "the stop-parsing token (--%)",
    "invokation_foreach_expression": "the .ForEach member syntax",
}


def line_and_column(node: Node) -> tuple[int, int]:
    return node.start_point[0] + 1, node.start_point[1] + 1


def unsupported(node: Node, what: str | None = None) -> UnsupportedConstruct:
    line, column = line_and_column(node)
    return UnsupportedConstruct(
        what or _CONSTRUCT_NAMES.get(node.type, f"'{node.type}'"), line, column
    )


def unwrap(node: Node) -> Node:
    while node.type in _WRAPPERS and node.child_count == 1:
        node = node.children[0]
    return node


def named(node: Node) -> list[Node]:
    return [c for c in node.named_children if c.type != "comment"]


def variable_key(text: str) -> tuple[str, str]:
    """``$script:Name`` -> ("script", "name"); ``${a b}`` -> ("", "a b")."""
    name = text[1:]
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    scope = ""
    if ":" in name:
        prefix, rest = name.split(":", 1)
        if prefix.casefold() in (
            "script",
            "global",
            "local",
            "private",
            "env",
            "using",
            "variable",
        ):
            scope, name = prefix.casefold(), rest
    key = name.casefold()
    if key == "psitem":
        key = "_"
    return scope, key


def const_expr(value: Any) -> Expr:
    def constant(ctx: Context) -> Any:
        return value

    return constant


class CompilerBase(ABC):
    """The source text, and the methods the compiler's layers call on layers above them.

    The compiler is built in layers, each a subclass of the one below: member access,
    expressions, param(), commands, assignment, control flow, statements (the finished
    :class:`~toolkit.sandbox.pwsh.compiler.statements.Compiler`). A layer calls the layers
    below it directly; what it needs from a layer above is declared here.
    """

    def __init__(self, source: bytes):
        self.source = source

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8")

    @abstractmethod
    def expr(self, node: Node) -> Expr:
        """An expression as ``fn(ctx) -> value`` (expressions)."""

    @abstractmethod
    def type_name(self, node: Node) -> str:
        """The full name of a type literal's type (expressions)."""

    @abstractmethod
    def param_block(self, node: Node) -> list[ParamDef]:
        """A ``param()`` block (parameters)."""

    @abstractmethod
    def assignment(self, node: Node) -> Expr:
        """``$x = ...``, ``$x += ...`` (assignment)."""

    @abstractmethod
    def assign_target(self, node: Node) -> Callable[[Context, Any], None]:
        """What stores into an assignable expression (assignment)."""

    @abstractmethod
    def script_block(self, node: Node | None, params: list[ParamDef] | None, at: Node) -> Body:
        """A ``{ ... }`` body with its parameters (control flow)."""

    @abstractmethod
    def script_body(
        self, params: list[ParamDef] | None, node: Node | None, text: str, at: Node
    ) -> Body:
        """Begin/process/end blocks of a script or script block (statements)."""

    @abstractmethod
    def statement(self, node: Node, label: str | None = None) -> Stmt:
        """One statement as ``fn(ctx, out)`` (statements)."""

    @abstractmethod
    def statement_block(self, node: Node) -> Stmt:
        """A ``{ ... }`` statement block (statements)."""

    @abstractmethod
    def statement_list(self, node: Node) -> Stmt:
        """A list of statements (statements)."""

    @abstractmethod
    def block(self, stmts: list[tuple[Stmt, int]]) -> Stmt:
        """Compiled statements run in order, with PowerShell's error handling (statements)."""

    @abstractmethod
    def pipeline_value(self, node: Node, *, nothing: Any = None) -> Expr:
        """A pipeline used as a value: its collected output (statements)."""
