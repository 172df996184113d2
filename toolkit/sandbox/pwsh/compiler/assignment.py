"""Compiling assignments: targets, compound operators, typed variables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolkit.sandbox.pwsh import operators as ops
from toolkit.sandbox.pwsh.coercion import lookup_type, to_string
from toolkit.sandbox.pwsh.compiler.command_calls import CommandCompiler
from toolkit.sandbox.pwsh.compiler.nodes import Expr, Node, named, unsupported, unwrap, variable_key
from toolkit.sandbox.pwsh.members import set_index, set_member
from toolkit.sandbox.pwsh.runtime import VOID, Context, collapse


class AssignmentCompiler(CommandCompiler):
    """Assignments and what they store into."""

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
            scope, key = variable_key(self.text(node))
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
            node, kind = named(node)[0], "cast_expression"  # the grammar's wrapping of it
        if kind == "cast_expression":
            type_node, inner = named(node)[0], named(node)[1]
            found = lookup_type(self.type_name(type_node))
            if found is None:
                raise unsupported(type_node, f"the type [{self.type_name(type_node)}]")
            convert = found[1]
            setter = self.assign_target(inner)
            return lambda ctx, value: setter(ctx, convert(value))
        raise unsupported(node, f"assigning to '{kind}'")
