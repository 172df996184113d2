"""Compiling control flow: if, loops, switch, try/catch, break/return/throw, functions."""

from __future__ import annotations

from typing import Any

from toolkit.sandbox.interface import PipelineStopped
from toolkit.sandbox.pwsh import operators as ops
from toolkit.sandbox.pwsh.coercion import to_bool, to_string
from toolkit.sandbox.pwsh.commands import run_block_items
from toolkit.sandbox.pwsh.compiler.assignment import AssignmentCompiler
from toolkit.sandbox.pwsh.compiler.nodes import (
    Expr,
    Node,
    Stmt,
    const_expr,
    named,
    unsupported,
    unwrap,
    variable_key,
)
from toolkit.sandbox.pwsh.compiler.runtime_errors import catch_matches, throw_record
from toolkit.sandbox.pwsh.errors import BreakSignal, ContinueSignal, PSError, ReturnSignal
from toolkit.sandbox.pwsh.operator_table import matches_table
from toolkit.sandbox.pwsh.runtime import (
    MISSING,
    Body,
    Context,
    FunctionDef,
    Out,
    ParamDef,
    collapse,
    emit,
)
from toolkit.sandbox.values import ErrorRecord


class ControlFlowCompiler(AssignmentCompiler):
    """Control-flow statements, function definitions and script blocks."""

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
        key = variable_key(self.text(var))[1]
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
                            clauses.append((const_expr(literal), False, body))
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
                    if not types or any(catch_matches(t, error.record) for t in types):
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
        return self.script_body(params, body_node, self.text(at), at)


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
