"""Compiling command calls: names, arguments, splatting, redirections."""

from __future__ import annotations

import re

from toolkit.sandbox.pwsh.commands import ArgSpec, CallSite
from toolkit.sandbox.pwsh.compiler.nodes import Expr, Node, named, unsupported, unwrap, variable_key
from toolkit.sandbox.pwsh.compiler.parameters import ParameterCompiler
from toolkit.sandbox.pwsh.literals import expand_escapes
from toolkit.sandbox.pwsh.parser import is_digit_suffix


class CommandCompiler(ParameterCompiler):
    """Command calls as :class:`CallSite` values."""

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
                            ArgSpec("splat", variable_key("$" + self.text(element)[1:])[1], None)
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


_REDIRECTION = re.compile(r"^[1-6*]?>")
