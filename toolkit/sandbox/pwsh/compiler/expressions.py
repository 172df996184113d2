"""Compiling expressions: variables, literals, strings, operators, casts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from toolkit.sandbox.pwsh import operators as ops
from toolkit.sandbox.pwsh.coercion import (
    lookup_type,
    to_bool,
    to_number,
    to_pscustomobject,
    to_string,
)
from toolkit.sandbox.pwsh.compiler.member_access import MemberCompiler
from toolkit.sandbox.pwsh.compiler.nodes import (
    Expr,
    Node,
    const_expr,
    line_and_column,
    named,
    unsupported,
    unwrap,
    variable_key,
)
from toolkit.sandbox.pwsh.errors import runtime_error
from toolkit.sandbox.pwsh.literals import here_body, literal_segment, parse_number, verbatim
from toolkit.sandbox.pwsh.members import TypeValue, table_key
from toolkit.sandbox.pwsh.operator_table import BINARY, match_operator, type_operator
from toolkit.sandbox.pwsh.runtime import MISSING, VOID, Context, Scope, ScriptBlock, collapse
from toolkit.sandbox.values import Hashtable, Layout


class ExpressionCompiler(MemberCompiler):
    """Expressions: each becomes ``fn(ctx) -> value``."""

    def expr(self, node: Node) -> Expr:
        node = unwrap(node)
        value = self.raw_expr(node)
        if node.type == "invokation_expression":

            def no_void(ctx: Context) -> Any:
                result = value(ctx)
                return None if result is VOID else result

            return no_void
        return value

    def raw_expr(self, node: Node) -> Expr:
        node = unwrap(node)
        handler = _EXPRESSIONS.get(node.type)
        if handler is None:
            if node.type in (
                "if_statement",
                "switch_statement",
                "foreach_statement",
                "for_statement",
                "while_statement",
                "do_statement",
                "try_statement",
                "pipeline",
            ):
                return self.pipeline_value(node)
            raise unsupported(node)
        return handler(self, node)

    def variable(self, node: Node) -> Expr:
        text = self.text(node)
        if text.startswith("@"):
            raise unsupported(node, "splatting outside a command argument")
        scope, key = variable_key(text)
        if not scope:
            if key == "true":
                return lambda ctx: True
            if key == "false":
                return lambda ctx: False
            if key == "null":
                return lambda ctx: None
            if key == "?":
                return lambda ctx: ctx.last_ok

            def get(ctx: Context) -> Any:
                scope_: Scope | None = ctx.scope
                while scope_ is not None:
                    value = scope_.vars.get(key, MISSING)
                    if value is not MISSING:
                        return None if value is VOID else value
                    scope_ = scope_.parent
                return _unset(ctx, key, text)

            return get
        if scope == "script":
            return lambda ctx: _value(ctx.script_scope.vars.get(key))
        if scope == "global":
            return lambda ctx: _value(ctx.runspace.global_scope.vars.get(key))
        if scope == "local":
            return lambda ctx: _value(ctx.scope.vars.get(key))
        if scope == "env":
            return lambda ctx: ctx.runspace.environment.get(key)
        if scope == "variable":
            return lambda ctx: ctx.get(key)
        raise unsupported(node, f"the '{scope}:' variable scope")

    def emitting_expr(self, node: Node) -> Expr:
        """An expression whose value is written to a pipeline: a variable holding
        "nothing" and a void method call write nothing (VOID passes through)."""
        node = unwrap(node)
        if node.type == "variable" and variable_key(self.text(node))[0] in ("", "local"):
            key = variable_key(self.text(node))[1]
            if key in ("true", "false", "null", "?"):
                return self.variable(node)

            text = self.text(node)

            def raw(ctx: Context) -> Any:
                value = ctx.scope.lookup(key)
                return _unset(ctx, key, text) if value is MISSING else value

            return raw
        return self.raw_expr(node)

    def number(self, node: Node) -> Expr:
        value = parse_number(self.text(node))
        if value is None:
            raise unsupported(node, f"the numeric literal '{self.text(node)}'")
        return lambda ctx: value

    def string(self, node: Node) -> Expr:
        inner = named(node)[0] if named(node) else node
        text = self.text(inner if inner is not node else node)
        kind = inner.type
        if kind == "verbatim_string_characters":
            value = verbatim(text[1:-1], *line_and_column(node))
            return lambda ctx: value
        if kind == "verbatim_here_string_characters":
            value = here_body(text)
            return lambda ctx: value
        if kind in ("expandable_string_literal", "expandable_here_string_literal"):
            return self.expandable(inner, here=kind == "expandable_here_string_literal")
        raise unsupported(node, f"the string form '{kind}'")

    def expandable(self, node: Node, *, here: bool) -> Expr:
        start, end = node.start_byte, node.end_byte
        raw = self.source[start:end].decode("utf-8")
        if here:
            open_len = raw.index("\n") + 1 if "\n" in raw else 2
            close_len = (
                len(raw) - raw.rstrip('@"\u201c\u201d\u201e').rfind("\n") if "\n" in raw else 2
            )
            body_start, body_end = (
                start + len(raw[:open_len].encode()),
                end - len(raw[len(raw) - close_len :].encode()),
            )
        else:
            body_start, body_end = start + len(raw[0].encode()), end - len(raw[-1].encode())
        parts: list[Expr | str] = []
        cursor = body_start
        for child in named(node):
            if child.start_byte < cursor:
                continue
            literal = self.source[cursor : child.start_byte].decode("utf-8")
            if literal:
                parts.append(literal_segment(literal, here, *line_and_column(node)))
            if child.type == "sub_expression":
                parts.append(self.sub_expression(child))
            else:
                parts.append(self.variable(child))
            cursor = child.end_byte
        tail = self.source[cursor:body_end].decode("utf-8") if cursor < body_end else ""
        if tail:
            parts.append(literal_segment(tail, here, *line_and_column(node)))
        if all(isinstance(p, str) for p in parts):
            constant = "".join(p for p in parts if isinstance(p, str))
            return lambda ctx: constant

        def build(ctx: Context) -> str:
            return "".join(p if isinstance(p, str) else to_string(p(ctx)) for p in parts)

        return build

    def sub_expression(self, node: Node) -> Expr:
        inner = [c for c in named(node) if c.type == "statement_list"]
        if not inner:
            return lambda ctx: None
        stmts = self.statement_list(inner[0])

        def run(ctx: Context) -> Any:
            items: list[Any] = []
            stmts(ctx, items.append)
            return collapse(items)

        return run

    def array_expression(self, node: Node) -> Expr:
        inner = [c for c in named(node) if c.type == "statement_list"]
        if not inner:
            return lambda ctx: []
        stmts = self.statement_list(inner[0])

        def run(ctx: Context) -> Any:
            items: list[Any] = []
            stmts(ctx, items.append)
            return items

        return run

    def parenthesized(self, node: Node) -> Expr:
        return self.pipeline_value(named(node)[0])

    def array_literal(self, node: Node) -> Expr:
        items = [self.expr(c) for c in named(node)]
        return lambda ctx: [item(ctx) for item in items]

    def hash_literal(self, node: Node, ordered: bool = False) -> Expr:
        entries: list[tuple[Expr, Expr]] = []
        literals: list[str] = []  # the keys written as bare names, in order
        for body in named(node):
            for entry in named(body):
                if entry.type != "hash_entry":
                    continue
                key_node, value_node = named(entry)[0], named(entry)[1]
                key_inner = unwrap(key_node)
                if key_inner.type in ("simple_name", "generic_token"):
                    literal = self.text(key_inner)
                    literals.append(literal)
                    key_fn: Expr = const_expr(literal)
                else:
                    key_fn = self.expr(key_inner)
                entries.append((key_fn, self.pipeline_value(value_node)))

        if len(literals) == len(entries) and _distinct(literals):
            return _literal_hash(Layout(*literals), [value for _, value in entries], ordered)

        def build(ctx: Context) -> Hashtable:
            table = Hashtable(ordered=ordered)
            for count, (key_fn, value_fn) in enumerate(entries, start=1):
                key = key_fn(ctx)
                table[table_key(key)] = value_fn(ctx)
                if len(table) != count:
                    raise runtime_error(
                        f"Duplicate keys '{to_string(key)}' are not allowed in hash literals.",
                        "DuplicateKeyInHashLiteral",
                        category="ParserError",
                    )
            return table

        return build

    def script_block_expression(self, node: Node) -> Expr:
        blocks = [c for c in named(node) if c.type == "script_block"]
        params = [c for c in named(node) if c.type == "param_block"]
        body = self.script_block(
            blocks[0] if blocks else None, self.param_block(params[0]) if params else None, node
        )
        body.text = self.text(node)[1:-1]
        block = ScriptBlock(body)
        return lambda ctx: block

    def type_name(self, node: Node) -> str:
        spec = [c for c in named(node) if c.type in ("type_spec", "attribute_name")]
        text = self.text(spec[0] if spec else node)
        return re.sub(r"\s+", "", text).strip("[]") if not spec else re.sub(r"\s+", "", text)

    def type_literal(self, node: Node) -> Expr:
        name = self.type_name(node)
        found = lookup_type(name)
        full = found[0] if found else name
        value = TypeValue(full)
        return lambda ctx: value

    def cast(self, node: Node) -> Expr:
        type_node, operand_node = named(node)[0], unwrap(named(node)[1])
        name = self.type_name(type_node)
        key = name.casefold()
        if key == "ordered":
            if operand_node.type != "hash_literal_expression":
                raise unsupported(node, "[ordered] on anything but a hash literal")
            return self.hash_literal(operand_node, ordered=True)
        operand = self.expr(operand_node)
        if key in ("pscustomobject", "system.management.automation.pscustomobject"):

            def custom(ctx: Context) -> Any:
                return to_pscustomobject(operand(ctx))

            return custom
        found = lookup_type(name)
        if found is None:

            def missing(ctx: Context) -> Any:
                raise runtime_error(
                    f"Unable to find type [{name}].", "TypeNotFound", category="InvalidOperation"
                )

            return missing
        convert = found[1]
        if key == "void":

            def void(ctx: Context) -> Any:
                operand(ctx)
                return VOID

            return void
        return lambda ctx: convert(operand(ctx))

    def unary(self, node: Node) -> Expr:
        children = node.children
        op = children[0].type.casefold() if not children[0].is_named else ""
        if not op:
            if len(children) != 1:
                raise unsupported(node)
            if children[0].type == "cast_expression":
                return self.cast(children[0])
            return self.expr(children[0])
        operand = self.expr(children[-1])
        if op in ("-not", "!"):
            return lambda ctx: not to_bool(operand(ctx))
        if op == "-":
            return lambda ctx: ops.negate(operand(ctx))
        if op == "+":
            return lambda ctx: to_number(operand(ctx))
        if op == ",":
            return lambda ctx: [operand(ctx)]
        if op == "-split":
            return lambda ctx: ops.unary_split(operand(ctx))
        if op == "-join":
            return lambda ctx: ops.join(operand(ctx), "")
        if op in ("++", "--"):
            return self.increment(node)
        if op == "-bnot":
            return lambda ctx: ~int(to_number(operand(ctx)))
        raise unsupported(node, f"the unary operator '{op}'")

    def increment(self, node: Node) -> Expr:
        target = unwrap(named(node)[0])
        post = node.type.startswith("post")
        delta = 1 if ("increment" in node.type or self.text(node).count("++")) else -1
        getter = self.expr(target)
        setter = self.assign_target(target)

        def step(ctx: Context) -> Any:
            old = getter(ctx)
            new = ops.add(to_number(old), delta)
            setter(ctx, new)
            return old if post else new

        return step

    def binary(self, node: Node) -> Expr:
        left_node, op_node, right_node = node.children[0], node.children[1], node.children[2]
        op = self.text(op_node).casefold()
        left = self.expr(left_node)
        if op in ("-is", "-isnot", "-as"):
            right_type = unwrap(right_node)
            right = self.expr(right_type)
            return type_operator(op, left, right)
        right = self.expr(right_node)
        if op == "-and":
            return lambda ctx: to_bool(left(ctx)) and to_bool(right(ctx))
        if op == "-or":
            return lambda ctx: to_bool(left(ctx)) or to_bool(right(ctx))
        if op == "-xor":
            return lambda ctx: to_bool(left(ctx)) != to_bool(right(ctx))
        if op in ("-match", "-notmatch", "-imatch", "-inotmatch", "-cmatch", "-cnotmatch"):
            return match_operator(op, left, right)
        fn = BINARY.get(op)
        if fn is None:
            raise unsupported(op_node, f"the operator '{op}'")
        return lambda ctx: fn(left(ctx), right(ctx))


def _unset(ctx: Context, key: str, text: str) -> None:
    """Reading a variable never set: $null, or an error under Set-StrictMode 1 and later."""
    if key != "_" and ctx.scope.strict_mode() >= 1:
        raise runtime_error(
            f"The variable '{text}' cannot be retrieved because it has not been set.",
            "VariableIsUndefined",
            category="InvalidOperation",
            target=text[1:],
        )


def _value(value: Any) -> Any:
    """A variable's value in an expression: "nothing" reads as $null."""
    return None if value is VOID else value


def _binary_or_wrapper(compiler: ExpressionCompiler, node: Node) -> Expr:
    if node.type == "array_literal_expression":
        return compiler.array_literal(node)
    if node.child_count == 3:
        return compiler.binary(node)
    raise unsupported(node)


def _format_node(compiler: ExpressionCompiler, node: Node) -> Expr:
    return compiler.binary(node)


_EXPRESSIONS: dict[str, Callable[[ExpressionCompiler, Node], Expr]] = {
    "variable": ExpressionCompiler.variable,
    "braced_variable": ExpressionCompiler.variable,
    "integer_literal": lambda c, n: c.number(n),
    "decimal_integer_literal": ExpressionCompiler.number,
    "hexadecimal_integer_literal": ExpressionCompiler.number,
    "real_literal": ExpressionCompiler.number,
    "string_literal": ExpressionCompiler.string,
    "array_expression": ExpressionCompiler.array_expression,
    "sub_expression": ExpressionCompiler.sub_expression,
    "parenthesized_expression": ExpressionCompiler.parenthesized,
    "hash_literal_expression": lambda c, n: c.hash_literal(n),
    "script_block_expression": ExpressionCompiler.script_block_expression,
    "type_literal": ExpressionCompiler.type_literal,
    "cast_expression": ExpressionCompiler.cast,
    "expression_with_unary_operator": ExpressionCompiler.unary,
    "pre_increment_expression": ExpressionCompiler.increment,
    "pre_decrement_expression": ExpressionCompiler.increment,
    "post_increment_expression": ExpressionCompiler.increment,
    "post_decrement_expression": ExpressionCompiler.increment,
    "member_access": MemberCompiler.member_access,
    "invokation_expression": MemberCompiler.invocation,
    "element_access": MemberCompiler.element_access,
    "assignment_expression": lambda c, n: c.assignment(n),  # a layer above
    "logical_expression": _binary_or_wrapper,
    "bitwise_expression": _binary_or_wrapper,
    "comparison_expression": _binary_or_wrapper,
    "additive_expression": _binary_or_wrapper,
    "multiplicative_expression": _binary_or_wrapper,
    "format_expression": _format_node,
    "range_expression": _binary_or_wrapper,
    "array_literal_expression": _binary_or_wrapper,
    # The same operators inside method-call arguments.
    "logical_argument_expression": _binary_or_wrapper,
    "bitwise_argument_expression": _binary_or_wrapper,
    "comparison_argument_expression": _binary_or_wrapper,
    "additive_argument_expression": _binary_or_wrapper,
    "multiplicative_argument_expression": _binary_or_wrapper,
    "format_argument_expression": _binary_or_wrapper,
    "range_argument_expression": _binary_or_wrapper,
    "simple_name": lambda c, n: const_expr(c.text(n)),
    "generic_token": lambda c, n: const_expr(c.text(n)),
}


def _distinct(names: list[str]) -> bool:
    return len({name.casefold() for name in names}) == len(names)


def _literal_hash(layout: Layout, values: list[Expr], ordered: bool) -> Expr:
    """``@{ a = ...; b = ... }`` with distinct bare-name keys: no key to evaluate, convert
    or check for duplicates at run time."""

    def build(ctx: Context) -> Hashtable:
        return Hashtable.from_layout(layout, [value(ctx) for value in values], ordered=ordered)

    return build
