"""Compiling member access: properties, methods, static members, indexing."""

from __future__ import annotations

from typing import Any

from toolkit.sandbox.pwsh.coercion import to_bool, to_number, to_string
from toolkit.sandbox.pwsh.commands import run_block_items
from toolkit.sandbox.pwsh.compiler.nodes import CompilerBase, Expr, Node, named, unsupported
from toolkit.sandbox.pwsh.errors import PSError, not_supported, runtime_error
from toolkit.sandbox.pwsh.members import get_index, get_member, has_member
from toolkit.sandbox.pwsh.runtime import Context, ScriptBlock, collapse
from toolkit.sandbox.pwsh.static_members import call_static, get_static
from toolkit.sandbox.pwsh.value_methods import call_encoding, call_method
from toolkit.sandbox.values import PSObject


class MemberCompiler(CompilerBase):
    """Member access, method calls and indexing."""

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


class _Constant:
    """A member name known at compile time."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __call__(self, ctx: Context) -> str:
        return self.value


def _constant_of(fn: Expr) -> str | None:
    return fn.value if isinstance(fn, _Constant) else None


def _collection_method(
    ctx: Context, obj: Any, key: str, block: ScriptBlock, options: list[Any]
) -> Any:
    """``.Where({...} [, 'First'|'Last' [, count]])`` and ``.ForEach({...})``."""
    items = obj if isinstance(obj, list | tuple) else ([] if obj is None else [obj])
    mode = to_string(options[0]).casefold() if options else "default"
    count = int(to_number(options[1])) if len(options) > 1 else 0
    if (key == "foreach" and options) or mode not in ("default", "first", "last"):
        raise not_supported(
            f"The sandbox engine does not support .{key}() with the options "
            f"{', '.join(to_string(o) for o in options)}.",
            "UnsupportedCollectionMethodMode",
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
