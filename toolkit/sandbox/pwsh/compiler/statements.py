"""Compiling a program: statement lists, blocks, pipelines (the finished Compiler)."""

from __future__ import annotations

from typing import Any

from toolkit.sandbox.interface import PipelineStopped
from toolkit.sandbox.pwsh.commands import CallSite, invoke_command
from toolkit.sandbox.pwsh.compiler.control_flow import ControlFlowCompiler
from toolkit.sandbox.pwsh.compiler.nodes import Expr, Node, Stmt, named, unsupported, unwrap
from toolkit.sandbox.pwsh.compiler.runtime_errors import statement_error
from toolkit.sandbox.pwsh.errors import PSError
from toolkit.sandbox.pwsh.runtime import VOID, Body, Context, Out, ParamDef, emit


class Compiler(ControlFlowCompiler):
    """Compiles one script's syntax tree (see the package docstring)."""

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
        return self.script_body(params, body_node, self.text(root), root)

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

    def script_body(
        self, params: list[ParamDef] | None, node: Node | None, text: str, at: Node
    ) -> Body:
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
