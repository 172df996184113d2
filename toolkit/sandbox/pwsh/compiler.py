"""Compile a tree-sitter syntax tree into Python closures, once per script text.

Every statement becomes ``fn(ctx, out)`` and every expression ``fn(ctx) -> value``; the
tree is walked only here, so running a loop costs closure calls, not node dispatch.
Anything without a handler raises :class:`UnsupportedConstruct` naming it and its line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import tree_sitter

from toolkit.sandbox.interface import PipelineStopped
from toolkit.sandbox.pwsh import operators as ops
from toolkit.sandbox.pwsh.coercion import (
    lookup_type,
    to_bool,
    to_bool_argument,
    to_number,
    to_pscustomobject,
    to_string,
    to_switch_argument,
)
from toolkit.sandbox.pwsh.commands import ArgSpec, CallSite, invoke_command, run_block_items
from toolkit.sandbox.pwsh.errors import (
    BreakSignal,
    ContinueSignal,
    PSError,
    ReturnSignal,
    UnsupportedConstruct,
    ValidationError,
    record,
    runtime_error,
)
from toolkit.sandbox.pwsh.literals import (
    expand_escapes,
    here_body,
    literal_segment,
    parse_number,
    verbatim,
)
from toolkit.sandbox.pwsh.members import (
    ExceptionInfo,
    TypeValue,
    call_encoding,
    call_method,
    call_static,
    get_index,
    get_member,
    get_static,
    has_member,
    set_index,
    set_member,
    table_key,
)
from toolkit.sandbox.pwsh.operator_table import (
    BINARY,
    match_operator,
    matches_table,
    type_operator,
)
from toolkit.sandbox.pwsh.parser import is_digit_suffix, parse
from toolkit.sandbox.pwsh.runtime import (
    MISSING,
    VOID,
    Body,
    Context,
    FunctionDef,
    Out,
    ParamDef,
    Scope,
    ScriptBlock,
    collapse,
    emit,
)
from toolkit.sandbox.values import ErrorRecord, Hashtable, PSObject

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

_REDIRECTION = re.compile(r"^[1-6*]?>")

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


def _pos(node: Node) -> tuple[int, int]:
    return node.start_point[0] + 1, node.start_point[1] + 1


def unsupported(node: Node, what: str | None = None) -> UnsupportedConstruct:
    line, column = _pos(node)
    return UnsupportedConstruct(
        what or _CONSTRUCT_NAMES.get(node.type, f"'{node.type}'"), line, column
    )


def unwrap(node: Node) -> Node:
    while node.type in _WRAPPERS and node.child_count == 1:
        node = node.children[0]
    return node


def named(node: Node) -> list[Node]:
    return [c for c in node.named_children if c.type != "comment"]


def _variable_key(text: str) -> tuple[str, str]:
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


class Compiler:
    def __init__(self, source: bytes):
        self.source = source

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8")

    # ---- blocks and statements -------------------------------------------------------

    def program(self, root: Node) -> Body:
        if root.type == "ERROR":  # the parser let it through: comments and blanks only
            return Body(None, None, None, self.block([]), self.text(root), 1)
        params: list[ParamDef] | None = None
        body_node: Node | None = None
        for child in named(root):
            if child.type == "param_block":
                params = self.param_block(child)
            elif child.type == "statement_list":
                blocks = self.top_level_named_blocks(child)
                if blocks is not None:
                    return Body(
                        params,
                        blocks.get("begin"),
                        blocks.get("process"),
                        blocks.get("end"),
                        self.text(root),
                        1,
                    )
                body_node = child
            elif child.type in ("script_block_body", "named_block_list"):
                body_node = child
            else:
                raise unsupported(child)
        return self._body(params, body_node, self.text(root), root)

    def top_level_named_blocks(self, node: Node) -> dict[str, Stmt] | None:
        """``begin {}``/``process {}``/``end {}`` at script level.

        tree-sitter-powershell parses them as commands named begin/process/end taking a
        script block; recognise exactly that shape.
        """
        blocks: dict[str, Stmt] = {}
        for statement in named(node):
            inner = unwrap(named(statement)[0]) if statement.type == "pipeline" else statement
            if inner.type != "command":
                return None
            name_nodes = [c for c in inner.children if c.type == "command_name"]
            elements = [
                unwrap(e)
                for c in inner.children
                if c.type == "command_elements"
                for e in named(c)
                if e.type != "command_argument_sep"
            ]
            if (
                not name_nodes
                or len(elements) != 1
                or elements[0].type != "script_block_expression"
            ):
                return None
            word = self.text(name_nodes[0]).casefold()
            if word not in ("begin", "process", "end") or word in blocks:
                return None
            script = [c for c in named(elements[0]) if c.type == "script_block"]
            body_nodes = [b for s in script for b in named(s) if b.type == "script_block_body"]
            lists = [x for b in body_nodes for x in named(b) if x.type == "statement_list"]
            blocks[word] = self.statement_list(lists[0]) if lists else self.block([])
        return blocks or None

    def _body(self, params: list[ParamDef] | None, node: Node | None, text: str, at: Node) -> Body:
        begin = process = end = None
        if node is not None and node.type == "script_block_body":
            inner = named(node)
            node = inner[0] if inner else None
        if node is None:
            end = self.block([])
        elif node.type == "named_block_list":
            for block in named(node):
                name = self.text(named(block)[0]).casefold()
                stmts = self.statement_block(named(block)[1])
                if name == "begin":
                    begin = stmts
                elif name == "process":
                    process = stmts
                elif name == "end":
                    end = stmts
                else:
                    raise unsupported(block, f"the '{name}' block")
        else:
            end = self.statement_list(node)
        return Body(params, begin, process, end, text, at.start_point[0] + 1)

    def statement_block(self, node: Node) -> Stmt:
        inner = [c for c in named(node) if c.type == "statement_list"]
        return self.statement_list(inner[0]) if inner else self.block([])

    def statement_list(self, node: Node) -> Stmt:
        stmts: list[tuple[Stmt, int]] = []
        label: str | None = None
        for child in named(node):
            if child.type == "label":
                label = self.text(child)[1:].casefold()
                continue
            if child.type == "empty_statement":
                continue
            stmts.append((self.statement(child, label), child.start_point[0] + 1))
            label = None
        return self.block(stmts)

    def block(self, stmts: list[tuple[Stmt, int]]) -> Stmt:
        def run(ctx: Context, out: Out) -> None:
            for stmt, line in stmts:
                ctx.statements += 1
                if ctx.stop.is_set():
                    raise PipelineStopped()
                try:
                    stmt(ctx, out)
                except PSError as error:
                    if error.record.script_line is None:
                        error.record.script_line = line
                    if error.script_terminating or ctx.try_depth:
                        raise
                    statement_error(ctx, error)

        return run

    def statement(self, node: Node, label: str | None = None) -> Stmt:
        kind = node.type
        if kind == "pipeline":
            return self.pipeline_statement(node)
        if kind == "if_statement":
            return self.if_statement(node)
        if kind == "foreach_statement":
            return self.foreach_statement(node, label)
        if kind == "for_statement":
            return self.for_statement(node, label)
        if kind == "while_statement":
            return self.while_statement(node, label)
        if kind == "do_statement":
            return self.do_statement(node, label)
        if kind == "switch_statement":
            return self.switch_statement(node, label)
        if kind == "try_statement":
            return self.try_statement(node)
        if kind == "flow_control_statement":
            return self.flow_control(node)
        if kind == "function_statement":
            return self.function_statement(node)
        raise unsupported(node)

    def pipeline_statement(self, node: Node) -> Stmt:
        inner = self._pipeline_statement(node)

        def tracked(ctx: Context, out: Out) -> None:
            before = ctx.errors
            inner(ctx, out)
            ctx.last_ok = ctx.errors == before

        return tracked

    def _pipeline_statement(self, node: Node) -> Stmt:
        parts = named(node)
        if len(parts) != 1:
            raise unsupported(node, "this pipeline form")
        part = unwrap(parts[0])
        if part.type == "assignment_expression":
            assign = self.assignment(part)

            def run_assign(ctx: Context, out: Out) -> None:
                assign(ctx)

            return run_assign
        if (
            part.type == "expression_with_unary_operator"
            and part.child_count == 1
            and part.children[0].type in ("pre_increment_expression", "pre_decrement_expression")
        ):
            part = part.children[0]
        if part.type in (
            "post_increment_expression",
            "post_decrement_expression",
            "pre_increment_expression",
            "pre_decrement_expression",
        ):
            step = self.increment(part)

            def run_step(ctx: Context, out: Out) -> None:
                step(ctx)

            return run_step
        stages = self.pipeline_stages(part, emitting=True)
        if isinstance(stages, tuple):
            first, sites = stages

            def run_pipeline(ctx: Context, out: Out) -> None:
                items = None
                if first is not None:
                    value = first(ctx)
                    items = iter(
                        value
                        if isinstance(value, list | tuple)
                        else ([] if value is VOID else [value])
                    )
                for site in sites:
                    items = invoke_command(ctx, site, items)
                assert items is not None
                for item in items:
                    out(item)

            return run_pipeline
        expr = stages

        def run_expr(ctx: Context, out: Out) -> None:
            emit(expr(ctx), out)

        return run_expr

    def pipeline_stages(
        self, node: Node, *, emitting: bool
    ) -> Expr | tuple[Expr | None, list[CallSite]]:
        """A bare expression, or (first expression or None, command call sites).

        ``emitting``: the value goes to a pipeline, where "nothing" (a void method's
        result, a variable assigned from a command that wrote nothing) writes nothing.
        """
        node = unwrap(node)
        if node.type == "command":
            return None, [self.command(node)]
        if node.type != "pipeline_chain":
            return self.emitting_expr(node) if emitting else self.expr(node)
        elements = named(node)
        first: Expr | None = None
        sites: list[CallSite] = []
        for index, element in enumerate(elements):
            element = unwrap(element)
            if element.type == "command":
                sites.append(self.command(element))
            elif index == 0:
                first = self.emitting_expr(element)
            else:
                raise unsupported(element, "an expression after '|' (only commands may follow)")
        return first, sites

    def pipeline_value(self, node: Node, *, nothing: Any = None) -> Expr:
        """A pipeline (or statement) used as a value, as ``$x = <pipeline>`` assigns it.

        Commands that write nothing give ``nothing``: $null, or for an assignment VOID
        (PowerShell's AutomationNull, which ``@($x)`` counts as no element).
        """
        node = unwrap(node)
        if node.type == "pipeline":
            parts = named(node)
            if len(parts) == 1:
                inner = unwrap(parts[0])
                if inner.type == "assignment_expression":
                    return self.assignment(inner)
                stages = self.pipeline_stages(inner, emitting=False)
                if not isinstance(stages, tuple):
                    return stages
        stmt = self.statement(node)

        def collect(ctx: Context) -> Any:
            items: list[Any] = []
            stmt(ctx, items.append)
            if not items:
                return nothing
            return items[0] if len(items) == 1 else items

        return collect

    def if_statement(self, node: Node) -> Stmt:
        branches: list[tuple[Expr, Stmt]] = []
        otherwise: Stmt | None = None
        children = named(node)
        branches.append((self.condition(children[0]), self.statement_block(children[1])))
        for child in children[2:]:
            if child.type == "elseif_clauses":
                for clause in named(child):
                    parts = named(clause)
                    branches.append((self.condition(parts[0]), self.statement_block(parts[1])))
            elif child.type == "elseif_clause":
                parts = named(child)
                branches.append((self.condition(parts[0]), self.statement_block(parts[1])))
            elif child.type == "else_clause":
                otherwise = self.statement_block(named(child)[0])

        def run(ctx: Context, out: Out) -> None:
            for test, body in branches:
                if to_bool(test(ctx)):
                    body(ctx, out)
                    return
            if otherwise is not None:
                otherwise(ctx, out)

        return run

    def condition(self, node: Node) -> Expr:
        return self.pipeline_value(node)

    def foreach_statement(self, node: Node, label: str | None) -> Stmt:
        parts = named(node)
        if parts[0].type == "foreach_parameter":
            raise unsupported(parts[0], "foreach -parallel")
        var = parts[0]
        key = _variable_key(self.text(var))[1]
        collection = self.pipeline_value(parts[1])
        body = self.statement_block(parts[2])

        def run(ctx: Context, out: Out) -> None:
            value = collection(ctx)
            items = value if isinstance(value, list | tuple) else ([] if value is None else [value])
            for item in items:
                ctx.scope.vars[key] = item
                if not _iteration(ctx, out, body, label):
                    break

        return run

    def for_statement(self, node: Node, label: str | None) -> Stmt:
        init = cond = step = None
        body = self.block([])
        for child in named(node):
            if child.type == "for_initializer":
                init = self.statement(named(child)[0])
            elif child.type == "for_condition":
                cond = self.pipeline_value(named(child)[0])
            elif child.type == "for_iterator":
                step = self.statement(named(child)[0])
            elif child.type == "statement_block":
                body = self.statement_block(child)

        def discard(_: Any) -> None:
            return None

        def run(ctx: Context, out: Out) -> None:
            if init is not None:
                init(ctx, out)
            while cond is None or to_bool(cond(ctx)):
                if not _iteration(ctx, out, body, label):
                    break
                if step is not None:
                    step(ctx, discard)

        return run

    def while_statement(self, node: Node, label: str | None) -> Stmt:
        parts = named(node)
        cond = self.pipeline_value(named(parts[0])[0])
        body = self.statement_block(parts[1])
        return self._loop(cond, body, label, test_first=True, until=False)

    def do_statement(self, node: Node, label: str | None) -> Stmt:
        parts = named(node)
        body = self.statement_block(parts[0])
        cond = self.pipeline_value(named(parts[1])[0])
        until = any(c.type == "until" for c in node.children)
        return self._loop(cond, body, label, test_first=False, until=until)

    def _loop(
        self, cond: Expr, body: Stmt, label: str | None, *, test_first: bool, until: bool
    ) -> Stmt:
        def run(ctx: Context, out: Out) -> None:
            if test_first and not to_bool(cond(ctx)):
                return
            while True:
                if not _iteration(ctx, out, body, label):
                    return
                if to_bool(cond(ctx)) == until:
                    return

        return run

    def switch_statement(self, node: Node, label: str | None) -> Stmt:
        mode = "equal"
        case_sensitive = False
        subject: Expr | None = None
        clauses: list[tuple[Expr | None, bool, Stmt]] = []
        for child in named(node):
            if child.type == "switch_parameters":
                for flag in named(child):
                    word = self.text(flag).lstrip("-").casefold()
                    if word in ("regex", "wildcard", "exact"):
                        mode = {"regex": "regex", "wildcard": "like", "exact": "equal"}[word]
                    elif word == "casesensitive":
                        case_sensitive = True
                    else:
                        raise unsupported(flag, f"switch -{word}")
            elif child.type == "switch_parameter":
                word = self.text(child).lstrip("-").casefold()
                if word not in ("regex", "wildcard", "exact", "casesensitive"):
                    raise unsupported(child, f"switch -{word}")
                if word == "casesensitive":
                    case_sensitive = True
                else:
                    mode = {"regex": "regex", "wildcard": "like", "exact": "equal"}[word]
            elif child.type == "switch_condition":
                subject = self.pipeline_value(named(child)[0])
            elif child.type == "switch_filename":
                raise unsupported(child, "switch -file")
            elif child.type == "switch_body":
                for group in named(child):
                    for clause in named(group):
                        cond_node, block_node = named(clause)
                        body = self.statement_block(block_node)
                        cond_inner = unwrap(cond_node)
                        if cond_inner.type == "switch_clause_condition" or (
                            self.text(cond_inner).casefold() == "default"
                            and cond_inner.named_child_count == 0
                        ):
                            clauses.append((None, False, body))
                        elif cond_inner.type == "script_block_expression":
                            clauses.append((self.expr(cond_inner), True, body))
                        elif cond_inner.type in ("simple_name", "generic_token"):
                            literal = self.text(cond_inner)
                            clauses.append((_const(literal), False, body))
                        else:
                            clauses.append((self.expr(cond_inner), False, body))
        assert subject is not None

        def matches(ctx: Context, item: Any, test: Expr, is_block: bool) -> bool:
            if is_block:
                block = test(ctx)
                result = run_block_items(ctx, block, [], dollar_under=item, new_scope=False)
                return to_bool(collapse(result))
            value = test(ctx)
            if mode == "regex":
                found = ops.match(item, value, case_sensitive)
                if found:
                    ctx.scope.vars["matches"] = matches_table(found)
                return found is not None
            if mode == "like":
                return ops.like(item, value, case_sensitive)
            if isinstance(item, str) or isinstance(value, str):
                return ops.equals(to_string(item), to_string(value), case_sensitive)
            return ops.equals(item, value, case_sensitive)

        def run(ctx: Context, out: Out) -> None:
            value = subject(ctx)
            items = value if isinstance(value, list | tuple) else [value]
            saved = ctx.scope.vars.get("_", MISSING)
            try:
                for item in items:
                    ctx.scope.vars["_"] = item
                    matched = False
                    try:
                        for test, is_block, body in clauses:
                            if test is None:
                                continue
                            if matches(ctx, item, test, is_block):
                                matched = True
                                body(ctx, out)
                        if not matched:
                            for test, _, body in clauses:
                                if test is None:
                                    body(ctx, out)
                    except ContinueSignal as signal:
                        if signal.label not in (None, label):
                            raise
            except BreakSignal as signal:
                if signal.label not in (None, label):
                    raise
            finally:
                if saved is MISSING:
                    ctx.scope.vars.pop("_", None)
                else:
                    ctx.scope.vars["_"] = saved

        return run

    def try_statement(self, node: Node) -> Stmt:
        body: Stmt | None = None
        catches: list[tuple[list[str], Stmt]] = []
        final: Stmt | None = None
        for child in named(node):
            if child.type == "statement_block":
                body = self.statement_block(child)
            elif child.type == "catch_clauses":
                for clause in named(child):
                    types: list[str] = []
                    block = None
                    for part in named(clause):
                        if part.type == "catch_type_list":
                            types = [self.type_name(t) for t in named(part)]
                        elif part.type == "statement_block":
                            block = self.statement_block(part)
                    assert block is not None
                    catches.append((types, block))
            elif child.type == "finally_clause":
                final = self.statement_block(named(child)[0])
        assert body is not None

        def run(ctx: Context, out: Out) -> None:
            try:
                ctx.try_depth += 1
                try:
                    body(ctx, out)
                finally:
                    ctx.try_depth -= 1
            except PSError as error:
                for types, handler in catches:
                    if not types or any(_catches(t, error.record) for t in types):
                        ctx.record_error(error.record)  # caught errors are in $Error too
                        saved = ctx.scope.vars.get("_", MISSING)
                        ctx.scope.vars["_"] = error.record
                        try:
                            handler(ctx, out)
                        finally:
                            if saved is MISSING:
                                ctx.scope.vars.pop("_", None)
                            else:
                                ctx.scope.vars["_"] = saved
                        break
                else:
                    raise
            finally:
                if final is not None:
                    final(ctx, out)

        return run

    def flow_control(self, node: Node) -> Stmt:
        keyword = node.children[0].type.casefold()
        parts = named(node)
        if keyword in ("break", "continue"):
            label = self.text(parts[0]).lstrip(":").casefold() if parts else None
            signal_type = BreakSignal if keyword == "break" else ContinueSignal

            def jump(ctx: Context, out: Out) -> None:
                raise signal_type(label)

            return jump
        if keyword == "return":
            value = self.pipeline_value(parts[0]) if parts else None

            def ret(ctx: Context, out: Out) -> None:
                if value is not None:
                    emit(value(ctx), out)
                raise ReturnSignal()

            return ret
        if keyword == "throw":
            thrown = self.pipeline_value(parts[0]) if parts else None
            line = node.start_point[0] + 1

            def throw(ctx: Context, out: Out) -> None:
                if thrown is not None:
                    value = thrown(ctx)
                else:  # a bare throw in a catch block rethrows what was caught
                    current = ctx.get("_")
                    value = current if isinstance(current, ErrorRecord) else None
                raise PSError(throw_record(value, line), script_terminating=True)

            return throw
        raise unsupported(node, f"the '{keyword}' statement")

    def function_statement(self, node: Node) -> Stmt:
        name = ""
        params: list[ParamDef] | None = None
        block: Node | None = None
        for child in named(node):
            if child.type == "function_name":
                name = self.text(child)
            elif child.type == "function_parameter_declaration":
                params = self.parameter_list(named(child)[0]) if named(child) else []
            elif child.type == "script_block":
                block = child
        if any(c.type in ("filter", "workflow") for c in node.children):
            raise unsupported(node, "filter and workflow definitions")
        body = self.script_block(block, params, node)
        definition = FunctionDef(name, body)
        key = name.casefold()

        def define(ctx: Context, out: Out) -> None:
            ctx.scope.functions[key] = definition

        return define

    def script_block(self, node: Node | None, params: list[ParamDef] | None, at: Node) -> Body:
        body_node = None
        if node is not None:
            for child in named(node):
                if child.type == "param_block":
                    params = self.param_block(child)
                elif child.type == "script_block_body":
                    body_node = child
                else:
                    raise unsupported(child)
        return self._body(params, body_node, self.text(at), at)

    # ---- param() ------------------------------------------------------------------------

    def param_block(self, node: Node) -> list[ParamDef]:
        for child in named(node):
            if child.type == "attribute_list":
                for attribute in named(child):
                    name = self.text(attribute).strip("[]").split("(")[0].strip().casefold()
                    # Both only describe the command; neither changes how it runs here.
                    if name not in ("cmdletbinding", "outputtype"):
                        raise unsupported(attribute, f"the [{name}] attribute on param()")
        lists = [c for c in named(node) if c.type == "parameter_list"]
        return self.parameter_list(lists[0]) if lists else []

    def parameter_list(self, node: Node) -> list[ParamDef]:
        return [self.script_parameter(p) for p in named(node) if p.type == "script_parameter"]

    def script_parameter(self, node: Node) -> ParamDef:
        definition = ParamDef("")
        for child in named(node):
            if child.type == "variable":
                definition.name = self.text(child)[1:].strip("{}")
            elif child.type == "script_parameter_default":
                definition.default = self.expr(named(child)[0])
            elif child.type == "attribute_list":
                for attribute in named(child):
                    self.parameter_attribute(attribute, definition)
        definition.convert = _parameter_converter(definition)
        return definition

    def parameter_attribute(self, node: Node, definition: ParamDef) -> None:
        inner = named(node)
        if inner and inner[0].type == "type_literal":
            type_name = self.type_name(inner[0])
            found = lookup_type(type_name)
            if found is None:
                raise unsupported(inner[0], f"the parameter type [{type_name}]")
            definition.type_name, definition.type_convert = found
            definition.is_switch = found[0] == "System.Management.Automation.SwitchParameter"
            # Arguments of [bool]/[switch] parameters are stricter than casts: no strings.
            if definition.is_switch:
                definition.type_convert = to_switch_argument
            elif found[0] == "System.Boolean":
                definition.type_convert = to_bool_argument
            return
        name = self.text(inner[0]).casefold() if inner else ""
        args = [a for c in inner[1:] for a in named(c)] if len(inner) > 1 else []
        if name == "parameter":
            for arg in args:
                parts = named(arg)
                key = self.text(parts[0]).casefold()
                value = to_bool(self.constant(parts[1])) if len(parts) > 1 else True
                if key == "mandatory":
                    definition.mandatory = bool(value)
                elif key == "position":
                    definition.position = int(to_number(self.constant(parts[1])))
                elif key in ("valuefrompipeline", "valuefrompipelinebypropertyname"):
                    definition.pipeline = definition.pipeline or bool(value)
                elif key in ("parametersetname", "helpmessage", "dontshow"):
                    continue
                else:
                    raise unsupported(arg, f"Parameter({self.text(parts[0])})")
        elif name == "alias":
            definition.aliases = [to_string(self.constant(unwrap(a))) for a in args]
        elif name in (
            "validatenotnullorempty",
            "validatenotnull",
            "allownull",
            "allowemptystring",
            "allowemptycollection",
            "validateset",
            "validatepattern",
            "validaterange",
        ):
            self.validation(name, args, definition, node)
        else:
            raise unsupported(node, f"the [{name}] parameter attribute")

    def validation(self, name: str, args: list[Node], definition: ParamDef, node: Node) -> None:
        if name in ("allownull", "allowemptystring", "allowemptycollection"):
            return
        values = [self.constant(unwrap(a)) for a in args]

        def check(item: Any) -> str | None:
            return _validate(name, values, item)

        definition.validators.append(check)

    def constant(self, node: Node) -> Any:
        """Evaluate an attribute argument (literals and $true/$false only)."""
        if node.type == "attribute_argument" and named(node):
            node = named(node)[-1]
        node = unwrap(node)
        if node.type == "variable":
            return {"$true": True, "$false": False, "$null": None}.get(self.text(node).casefold())
        if node.type in ("string_literal", "integer_literal", "real_literal"):
            return self.expr(node)(None)  # type: ignore[arg-type]
        if node.type in ("simple_name", "generic_token"):
            return self.text(node)
        raise unsupported(node, "a non-literal attribute argument")

    # ---- commands -----------------------------------------------------------------------

    def command(self, node: Node) -> CallSite:
        name: str | None = None
        name_expr: Expr | None = None
        dot = False
        args: list[ArgSpec] = []
        merge_errors = discard_output = discard_errors = False
        for child in node.children:
            if child.type == "command_invokation_operator":
                dot = self.text(child) == "."
            elif child.type == "command_name":
                name = self.text(child)
            elif child.type == "command_name_expr":
                inner = unwrap(named(child)[0])
                if inner.type == "path_command_name":
                    inner = unwrap(named(inner)[0]) if named(inner) else inner
                if inner.type in (
                    "command_name",
                    "path_command_name",
                    "path_command_name_token",
                    "generic_token",
                ):
                    name = self.text(inner)
                else:
                    name_expr = self.expr(inner)
            elif child.type == "command_elements":
                elements = named(child)
                index = 0
                while index < len(elements):
                    element = elements[index]
                    if element.type != "command_argument_sep":
                        element = unwrap(element)
                    kind = element.type
                    if kind == "command_argument_sep":
                        index += 1
                        continue
                    if kind == "command_parameter":
                        text = self.text(element)
                        following = elements[index + 1] if index + 1 < len(elements) else None
                        if following is not None and is_digit_suffix(following):
                            # -CustomAttribute1: the grammar split the name (see parser.py).
                            text += self.text(following)
                            index += 1
                            following = elements[index + 1] if index + 1 < len(elements) else None
                        colon = text.endswith(":")
                        if (
                            following is not None
                            and following.type == "command_argument_sep"
                            and self.text(following).strip() == ":"
                        ):
                            colon = True
                            index += 1
                        pname = text[1:].rstrip(":")
                        if colon:
                            index += 1
                            while (
                                index < len(elements)
                                and elements[index].type == "command_argument_sep"
                            ):
                                index += 1
                            if index >= len(elements):
                                raise unsupported(element, "a parameter with ':' and no value")
                            args.append(ArgSpec("param", pname, self.argument(elements[index])))
                        else:
                            args.append(ArgSpec("param", pname, None))
                    elif kind == "redirection" or (
                        kind == "generic_token" and _REDIRECTION.match(self.text(element))
                    ):
                        # tree-sitter reads "2>$null" without a space as a bare word.
                        op = self.text(element).replace(" ", "")
                        if op == "2>&1":
                            merge_errors = True
                        elif op in (">$null", "1>$null"):
                            discard_output = True
                        elif op == "2>$null":
                            discard_errors = True
                        elif op == "*>$null":
                            discard_output = discard_errors = True
                        else:
                            raise unsupported(element, f"the redirection '{op}'")
                    elif kind == "variable" and self.text(element).startswith("@"):
                        args.append(
                            ArgSpec("splat", _variable_key("$" + self.text(element)[1:])[1], None)
                        )
                    else:
                        args.append(ArgSpec("arg", None, self.argument(element)))
                    index += 1
            elif child.type == "redirections":
                raise unsupported(child, "redirection")
        line = node.start_point[0] + 1
        return CallSite(
            name, name_expr, dot, args, line, merge_errors, discard_output, discard_errors
        )

    def argument(self, node: Node) -> Expr:
        node = unwrap(node)
        if node.type in ("generic_token", "simple_name"):
            literal = expand_escapes(self.text(node))
            return lambda ctx: literal
        if node.type == "argument_list":
            items = [self.expr(a) for lst in named(node) for a in named(lst)]
            return lambda ctx: [item(ctx) for item in items]
        return self.expr(node)

    # ---- expressions --------------------------------------------------------------------

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
        scope, key = _variable_key(text)
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
        if node.type == "variable" and _variable_key(self.text(node))[0] in ("", "local"):
            key = _variable_key(self.text(node))[1]
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
            value = verbatim(text[1:-1], *_pos(node))
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
                parts.append(literal_segment(literal, here, *_pos(node)))
            if child.type == "sub_expression":
                parts.append(self.sub_expression(child))
            else:
                parts.append(self.variable(child))
            cursor = child.end_byte
        tail = self.source[cursor:body_end].decode("utf-8") if cursor < body_end else ""
        if tail:
            parts.append(literal_segment(tail, here, *_pos(node)))
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
        for body in named(node):
            for entry in named(body):
                if entry.type != "hash_entry":
                    continue
                key_node, value_node = named(entry)[0], named(entry)[1]
                key_inner = unwrap(key_node)
                if key_inner.type in ("simple_name", "generic_token"):
                    literal = self.text(key_inner)
                    key_fn: Expr = _const(literal)
                else:
                    key_fn = self.expr(key_inner)
                entries.append((key_fn, self.pipeline_value(value_node)))

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

    def member_access(self, node: Node) -> Expr:
        target_node = named(node)[0]
        static = any(c.type == "::" for c in node.children)
        member = self.member_name(named(node)[-1])
        if static:
            type_name = self.type_name(target_node)

            def static_get(ctx: Context) -> Any:
                return get_static(type_name, to_string(member(ctx)))

            return static_get
        target = self.expr(target_node)
        constant = _constant_of(member)

        def get(ctx: Context) -> Any:
            obj = target(ctx)
            name = constant if constant is not None else to_string(member(ctx))
            value = get_member(obj, name)
            if value is None and ctx.scope.strict_mode() >= 2 and not has_member(obj, name):
                raise runtime_error(
                    f"The property '{name}' cannot be found on this object. Verify that the "
                    "property exists.",
                    "PropertyNotFoundStrict",
                    category="NotSpecified",
                    target=obj,
                )
            return value

        return get

    def member_name(self, node: Node) -> Expr:
        inner = named(node)
        if inner and inner[0].type not in ("simple_name",):
            return self.expr(inner[0])
        name = self.text(node)
        return _Constant(name)

    def invocation(self, node: Node) -> Expr:
        parts = named(node)
        if len(parts) == 1 and parts[0].type == "invokation_foreach_expression":
            return self.foreach_member(parts[0])
        if len(parts) < 2:
            raise unsupported(node, "this method call form")
        target_node = parts[0]
        static = any(c.type == "::" for c in node.children)
        name = self.text(parts[1])
        arg_nodes = [a for p in parts[2:] for lst in named(p) for a in named(lst)]
        args = [self.expr(a) for a in arg_nodes]
        line = node.start_point[0] + 1
        if static:
            type_name = self.type_name(target_node)

            def static_call(ctx: Context) -> Any:
                return call_static(type_name, name, [a(ctx) for a in args])

            return static_call
        target = self.expr(target_node)
        key = name.casefold()

        def call(ctx: Context) -> Any:
            obj = target(ctx)
            values = [a(ctx) for a in args]
            if key in ("where", "foreach") and values and isinstance(values[0], ScriptBlock):
                return _collection_method(ctx, obj, key, values[0], values[1:])
            if isinstance(obj, ScriptBlock) and key in ("invoke", "invokereturnasis"):
                return collapse(run_block_items(ctx, obj, values))
            if isinstance(obj, PSObject) and obj.type_names[:1] == ["System.Text.Encoding"]:
                return call_encoding(obj, name, values)
            try:
                return call_method(obj, name, values)
            except PSError as error:
                error.record.script_line = line
                raise

        return call

    def foreach_member(self, node: Node) -> Expr:
        """``$items.ForEach{ ... }`` (the method form without parentheses)."""
        target_node, block_node = named(node)[0], named(node)[-1]
        if block_node.type != "script_block_expression":
            raise unsupported(node, "this .ForEach form")
        target = self.expr(target_node)
        block = self.expr(block_node)

        def run(ctx: Context) -> Any:
            return _collection_method(ctx, target(ctx), "foreach", block(ctx), [])

        return run

    def element_access(self, node: Node) -> Expr:
        parts = named(node)
        target = self.expr(parts[0])
        index = self.expr(parts[1])
        return lambda ctx: get_index(target(ctx), index(ctx))

    # ---- assignment ---------------------------------------------------------------------

    def assignment(self, node: Node) -> Expr:
        children = named(node)
        target_node = unwrap(
            named(children[0])[0]
            if children[0].type == "left_assignment_expression"
            else children[0]
        )
        op = self.text(children[1]).strip()
        setter = self.assign_target(target_node)
        if op == "=":
            # Only a plain variable keeps "nothing" apart from $null (see pipeline_value).
            keeps_nothing = target_node.type == "variable"
            value = self.pipeline_value(children[2], nothing=VOID if keeps_nothing else None)

            def assign(ctx: Context) -> Any:
                result = value(ctx)
                setter(ctx, result)
                return None if result is VOID else result

            return assign
        value = self.pipeline_value(children[2])
        fn = {
            "+=": ops.add,
            "-=": ops.subtract,
            "*=": ops.multiply,
            "/=": ops.divide,
            "%=": ops.modulo,
        }.get(op)
        if fn is None:
            raise unsupported(children[1], f"the assignment operator '{op}'")
        getter = self.expr(target_node)

        def update(ctx: Context) -> Any:
            result = fn(getter(ctx), value(ctx))
            setter(ctx, result)
            return result

        return update

    def assign_target(self, node: Node) -> Callable[[Context, Any], None]:
        node = unwrap(node)
        kind = node.type
        if kind == "variable":
            scope, key = _variable_key(self.text(node))
            if key in ("true", "false") and not scope:
                raise unsupported(node, f"assigning to ${key}")
            if key == "null" and not scope:
                return lambda ctx, value: None
            if scope in ("", "local"):

                def set_local(ctx: Context, value: Any) -> None:
                    ctx.scope.vars[key] = value

                return set_local
            if scope == "script":

                def set_script(ctx: Context, value: Any) -> None:
                    ctx.script_scope.vars[key] = value

                return set_script
            if scope == "global":

                def set_global(ctx: Context, value: Any) -> None:
                    ctx.runspace.global_scope.vars[key] = value

                return set_global
            if scope == "env":

                def set_env(ctx: Context, value: Any) -> None:
                    ctx.runspace.environment[key] = to_string(value)

                return set_env
            raise unsupported(node, f"assigning to the '{scope}:' scope")
        if kind == "member_access":
            target = self.expr(named(node)[0])
            member = self.member_name(named(node)[-1])
            return lambda ctx, value: set_member(target(ctx), to_string(member(ctx)), value)
        if kind == "element_access":
            parts = named(node)
            target = self.expr(parts[0])
            index = self.expr(parts[1])
            return lambda ctx, value: set_index(target(ctx), index(ctx), value)
        if kind == "array_literal_expression":
            setters = [self.assign_target(c) for c in named(node)]

            def spread(ctx: Context, value: Any) -> None:
                items = list(value) if isinstance(value, list | tuple) else [value]
                for index, setter in enumerate(setters):
                    if index == len(setters) - 1:
                        rest = items[index:]
                        setter(ctx, collapse(rest) if len(rest) != 1 else rest[0])
                    else:
                        setter(ctx, items[index] if index < len(items) else None)

            return spread
        if (
            kind == "expression_with_unary_operator"
            and named(node)
            and named(node)[0].type == "cast_expression"
        ):
            cast = named(node)[0]
            type_node, inner = named(cast)[0], named(cast)[1]
            found = lookup_type(self.type_name(type_node))
            if found is None:
                raise unsupported(type_node, f"the type [{self.type_name(type_node)}]")
            convert = found[1]
            setter = self.assign_target(inner)
            return lambda ctx, value: setter(ctx, convert(value))
        if kind == "cast_expression":
            type_node, inner = named(node)[0], named(node)[1]
            found = lookup_type(self.type_name(type_node))
            if found is None:
                raise unsupported(type_node, f"the type [{self.type_name(type_node)}]")
            convert = found[1]
            setter = self.assign_target(inner)
            return lambda ctx, value: setter(ctx, convert(value))
        raise unsupported(node, f"assigning to '{kind}'")


def _iteration(ctx: Context, out: Out, body: Stmt, label: str | None) -> bool:
    """Run one loop iteration; False when a ``break`` meant for this loop ends it.

    A labelled break or continue aimed at an outer loop goes on up; a stopped pipeline
    ends here, between iterations.
    """
    if ctx.stop.is_set():
        raise PipelineStopped()
    try:
        body(ctx, out)
    except BreakSignal as signal:
        if signal.label in (None, label):
            return False
        raise
    except ContinueSignal as signal:
        if signal.label not in (None, label):
            raise
    return True


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


class _Constant:
    """A member name known at compile time."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __call__(self, ctx: Context) -> str:
        return self.value


def _constant_of(fn: Expr) -> str | None:
    return fn.value if isinstance(fn, _Constant) else None


def _parameter_converter(definition: ParamDef) -> Callable[[Any], Any] | None:
    """Type conversion, then every [Validate*] attribute, whatever their order."""
    convert, validators, param = definition.type_convert, definition.validators, definition.name
    if not validators:
        return convert

    def checked(value: Any) -> Any:
        if convert is not None:
            value = convert(value)
        for item in value if isinstance(value, list | tuple) else [value]:
            for validator in validators:
                problem = validator(item)
                if problem:
                    raise ValidationError(
                        record(
                            f"Cannot validate argument on parameter '{param}'. {problem}",
                            "ParameterArgumentValidationError",
                            category="InvalidData",
                            exception_type=(
                                "System.Management.Automation.ParameterBindingValidationException"
                            ),
                        )
                    )
        return value

    return checked


def _validate(name: str, values: list[Any], item: Any) -> str | None:
    if name in ("validatenotnullorempty", "validatenotnull"):
        if item is None or (name == "validatenotnullorempty" and item == ""):
            return (
                "The argument is null or empty. Provide an argument that is not null or "
                "empty, and then try the command again."
            )
        return None
    if name == "validateset":
        if not any(ops.equals(to_string(item), to_string(v)) for v in values):
            allowed = ",".join(to_string(v) for v in values)
            return (
                f'The argument "{to_string(item)}" does not belong to the set "{allowed}" '
                "specified by the ValidateSet attribute. Supply an argument that is in the "
                "set and then try the command again."
            )
        return None
    if name == "validatepattern":
        if not ops.match(item, values[0]):
            return (
                f'The argument "{to_string(item)}" does not match the "{values[0]}" '
                "pattern. Supply an argument that matches "
                f'"{values[0]}" and try the command again.'
            )
        return None
    if name == "validaterange":
        number = to_number(item)
        if not to_number(values[0]) <= number <= to_number(values[1]):
            return (
                f"The {number} argument is greater than the maximum allowed range of "
                f"{values[1]}. Supply an argument that is less than or equal to "
                f"{values[1]} and then try the command again."
            )
    return None


# Base classes of the .NET exceptions the engine raises, for typed catch clauses.
_EXCEPTION_BASES = {
    "system.dividebyzeroexception": ("system.arithmeticexception", "system.systemexception"),
    "system.management.automation.psinvalidcastexception": (
        "system.invalidcastexception",
        "system.systemexception",
    ),
    "system.indexoutofrangeexception": ("system.systemexception",),
    "system.argumentexception": ("system.systemexception",),
    "system.invalidoperationexception": ("system.systemexception",),
    "system.notsupportedexception": ("system.systemexception",),
    "system.formatexception": ("system.systemexception",),
    "system.management.automation.parameterbindingvalidationexception": (
        "system.management.automation.parameterbindingexception",
    ),
    "system.management.automation.parameterbindingargumenttransformationexception": (
        "system.management.automation.parameterbindingexception",
    ),
}


def _catches(type_name: str, error: ErrorRecord) -> bool:
    """Whether ``catch [type_name]`` takes this error: its exception type or a base."""
    wanted = type_name.casefold()
    if not wanted.startswith("system.") and "." not in wanted:
        wanted = "system." + wanted
    if wanted in ("system.exception", "system.object"):
        return True
    actual = error.exception_type.casefold()
    if wanted == "system.management.automation.runtimeexception":
        return actual.startswith("system.management.automation.")
    return actual == wanted or wanted in _EXCEPTION_BASES.get(actual, ())


def throw_record(value: Any, line: int) -> ErrorRecord:
    if isinstance(value, ErrorRecord):
        return value
    if isinstance(value, ExceptionInfo):
        return record(
            value.message,
            value.message,
            category="OperationStopped",
            exception_type=value.type_name,
            line=line,
        )
    if value is None:
        return record("ScriptHalted", "ScriptHalted", category="OperationStopped", line=line)
    message = to_string(value)
    return record(message, message, category="OperationStopped", target=value, line=line)


def statement_error(ctx: Context, error: PSError) -> None:
    """A statement-terminating error outside try: report it and go on, as PowerShell does.

    ``$ErrorActionPreference`` applies: Stop ends the script, SilentlyContinue and Ignore
    keep it off the error stream (it still lands in ``$Error``)."""
    action = ctx.error_action().casefold()
    if action == "stop":
        raise PSError(error.record, script_terminating=True)
    ctx.errors += 1
    ctx.last_ok = False
    ctx.record_error(error.record)
    if action not in ("silentlycontinue", "ignore"):
        ctx.sink.error(error.record)


def _const(value: Any) -> Expr:
    def constant(ctx: Context) -> Any:
        return value

    return constant


def _binary_or_wrapper(compiler: Compiler, node: Node) -> Expr:
    if node.type == "array_literal_expression":
        return compiler.array_literal(node)
    if node.child_count == 3:
        return compiler.binary(node)
    raise unsupported(node)


def _format_node(compiler: Compiler, node: Node) -> Expr:
    return compiler.binary(node)


def _collection_method(
    ctx: Context, obj: Any, key: str, block: ScriptBlock, options: list[Any]
) -> Any:
    """``.Where({...} [, 'First'|'Last' [, count]])`` and ``.ForEach({...})``."""
    items = obj if isinstance(obj, list | tuple) else ([] if obj is None else [obj])
    mode = to_string(options[0]).casefold() if options else "default"
    count = int(to_number(options[1])) if len(options) > 1 else 0
    if (key == "foreach" and options) or mode not in ("default", "first", "last"):
        raise runtime_error(
            f"The sandbox engine does not support .{key}() with the options "
            f"{', '.join(to_string(o) for o in options)}.",
            "UnsupportedCollectionMethodMode",
            exception_type="System.NotSupportedException",
        )
    result: list[Any] = []
    for item in items:
        produced = run_block_items(ctx, block, [], dollar_under=item, new_scope=False)
        if key == "where":
            if to_bool(collapse(produced)):
                result.append(item)
                if mode == "first" and len(result) >= max(count, 1):
                    break
        else:
            result.extend(produced)
    if mode == "last":
        return result[-max(count, 1) :]
    return result


_EXPRESSIONS: dict[str, Callable[[Compiler, Node], Expr]] = {
    "variable": Compiler.variable,
    "braced_variable": Compiler.variable,
    "integer_literal": lambda c, n: c.number(n),
    "decimal_integer_literal": Compiler.number,
    "hexadecimal_integer_literal": Compiler.number,
    "real_literal": Compiler.number,
    "string_literal": Compiler.string,
    "array_expression": Compiler.array_expression,
    "sub_expression": Compiler.sub_expression,
    "parenthesized_expression": Compiler.parenthesized,
    "hash_literal_expression": lambda c, n: c.hash_literal(n),
    "script_block_expression": Compiler.script_block_expression,
    "type_literal": Compiler.type_literal,
    "cast_expression": Compiler.cast,
    "expression_with_unary_operator": Compiler.unary,
    "pre_increment_expression": Compiler.increment,
    "pre_decrement_expression": Compiler.increment,
    "post_increment_expression": Compiler.increment,
    "post_decrement_expression": Compiler.increment,
    "member_access": Compiler.member_access,
    "invokation_expression": Compiler.invocation,
    "element_access": Compiler.element_access,
    "assignment_expression": Compiler.assignment,
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
    "simple_name": lambda c, n: _const(c.text(n)),
    "generic_token": lambda c, n: _const(c.text(n)),
}


@lru_cache(maxsize=256)
def compile_script(source: str) -> Body:
    """Parse and compile a script; cached by its text (templates repeat verbatim)."""
    root, data = parse(source)
    return Compiler(data).program(root)
