"""Compiling param() blocks: parameter attributes, types and [Validate*] checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolkit.sandbox.pwsh import operators as ops
from toolkit.sandbox.pwsh.coercion import (
    lookup_type,
    to_bool,
    to_bool_argument,
    to_number,
    to_string,
    to_switch_argument,
)
from toolkit.sandbox.pwsh.compiler.expressions import ExpressionCompiler
from toolkit.sandbox.pwsh.compiler.nodes import Node, named, unsupported, unwrap
from toolkit.sandbox.pwsh.errors import ValidationError, record
from toolkit.sandbox.pwsh.runtime import ParamDef


class ParameterCompiler(ExpressionCompiler):
    """``param()`` blocks and their attributes."""

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
