"""Template lint: render, parse with tree-sitter-powershell, check commands and parameters.

A template passes when its rendered script parses with no ERROR or MISSING node, every
command it calls is an allowed built-in, a function it defines, or a cmdlet in Microsoft's
parameter metadata, every ``-Parameter`` it passes to such a cmdlet exists for it (aliases
and unambiguous prefixes count, as in PowerShell), and its ``param()`` block declares
exactly the parameters its metadata lists. It calls cmdlets of one service only (Exchange
or Graph: psbridge keeps them in separate runspaces, their modules conflict in one
process), and a task only those of the services its metadata lists (psbridge connects its
runspace to those only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit import spec
from toolkit.core.errors import TemplateError
from toolkit.core.script_services import parse, position, service_problems, walk
from toolkit.core.templates import RenderedScript, TemplateCatalog

COMMA_LIST_HINT = (
    "tree-sitter-powershell cannot parse unquoted comma lists in command arguments "
    "(Select-Object Name, Size); write an array instead: @('Name','Size')"
)

DIGIT_PARAMETER_HINT = (
    "tree-sitter-powershell misreads a parameter name ending in a digit (-CustomAttribute1) "
    "as a redirection; pass such parameters by splatting: "
    "$p = @{ CustomAttribute1 = $value }; Set-Mailbox @p"
)


@dataclass(frozen=True)
class Finding:
    template: str
    line: int  # 1-based, in the rendered script
    column: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.template}:{self.line}:{self.column}: {self.message}"


def syntax_findings(name: str, script: str, tree: Any) -> list[Finding]:
    findings = []
    lines = script.splitlines()
    for node in walk(tree.root_node):
        if node.type == "ERROR" or node.is_missing:
            line, col = position(node)
            what = f"missing {node.type}" if node.is_missing else "syntax error"
            text = lines[line - 1] if line <= len(lines) else ""
            message = f"{what} near {text.strip()[:60]!r}"
            if node.is_missing and node.type == ">":
                message += f" ({DIGIT_PARAMETER_HINT})"
            elif "," in text and not node.is_missing:
                message += f" ({COMMA_LIST_HINT})"
            findings.append(Finding(name, line, col, message))
    return findings


def _defined_functions(tree: Any) -> set[str]:
    return {
        child.text.decode().lower()
        for node in walk(tree.root_node)
        if node.type == "function_statement"
        for child in node.children
        if child.type == "function_name"
    }


def _parameter_names(cmdlet: dict[str, Any]) -> dict[str, str]:
    """Lower-cased name or alias -> canonical name, common parameters included."""
    names: dict[str, str] = {}
    for common, aliases in spec.COMMON_PARAMETERS.items():
        for spelling in (common, *aliases):
            names[spelling.lower()] = common
    for pname, pspec in cmdlet["parameters"].items():
        for spelling in (pname, *pspec.get("aliases", [])):
            names[spelling.lower()] = pname
    return names


def resolve_parameter(cmdlet_name: str, written: str) -> str:
    """Canonical parameter name for ``written`` (a name, alias or unambiguous prefix).

    Raises ValueError with PowerShell's reason when it matches nothing or several.
    """
    names = _parameter_names(spec.cmdlets()[cmdlet_name])
    key = written.lower()
    if key in names:
        return names[key]
    matches = sorted({canon for spelling, canon in names.items() if spelling.startswith(key)})
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValueError(f"{cmdlet_name} has no parameter -{written}")
    raise ValueError(f"-{written} is ambiguous for {cmdlet_name}: {', '.join(matches)}")


def command_findings(name: str, tree: Any) -> list[Finding]:
    findings = []
    functions = _defined_functions(tree)
    builtins = spec.builtin_names()
    cmdlets = {c.lower(): c for c in spec.cmdlets()}
    for node in walk(tree.root_node):
        if node.type != "command":
            continue
        name_node = next((c for c in node.children if c.type == "command_name"), None)
        if name_node is None:  # `& $scriptblock`: nothing to check statically
            continue
        command = name_node.text.decode()
        lowered = command.lower()
        line, col = position(name_node)
        if lowered in functions or lowered in builtins:
            continue
        if lowered not in cmdlets:
            findings.append(Finding(
                name, line, col,
                f"'{command}' is neither an allowed built-in, a function the script "
                "defines, nor a cmdlet in the parameter metadata",
            ))
            continue
        canonical = cmdlets[lowered]
        if canonical != command:
            findings.append(Finding(name, line, col, f"write '{canonical}', not '{command}'"))
        for element in walk(node):
            if element.type == "command_parameter" and _owner(element).id == node.id:
                written = element.text.decode().lstrip("-").rstrip(":")
                try:
                    resolve_parameter(canonical, written)
                except ValueError as exc:
                    pline, pcol = position(element)
                    findings.append(Finding(name, pline, pcol, str(exc)))
    return findings


def _owner(node: Any) -> Any:
    """The command a parameter token belongs to (not one nested in a script block)."""
    parent = node.parent
    while parent is not None and parent.type != "command":
        parent = parent.parent
    return parent


def param_block_findings(rendered: RenderedScript, tree: Any) -> list[Finding]:
    """The script's own ``param()`` must declare exactly the metadata's parameters."""
    root = tree.root_node
    block = next((c for c in root.children if c.type == "param_block"), None)
    declared: dict[str, Any] = {}
    if block is not None:
        for node in walk(block):
            if node.type == "script_parameter":
                var = next((c for c in walk(node) if c.type == "variable"), None)
                if var is not None:
                    declared[var.text.decode().lstrip("$").lower()] = var
    expected = {p.lower(): p for p in rendered.meta.params}
    findings = []
    name = rendered.meta.name
    for lowered, pname in expected.items():
        if lowered not in declared:
            findings.append(Finding(
                name, 1, 1, f"metadata lists parameter {pname} but param() does not declare it"
            ))
    for lowered, var in declared.items():
        if lowered not in expected:
            line, col = position(var)
            findings.append(Finding(
                name, line, col,
                f"param() declares {var.text.decode()} but the metadata's params do not list it",
            ))
    return findings


def service_findings(rendered: RenderedScript, tree: Any) -> list[Finding]:
    """See :func:`toolkit.core.script_services.service_problems`."""
    meta = rendered.meta
    return [Finding(meta.name, line, col, message) for line, col, message
            in service_problems(meta.services, TemplateCatalog.is_task(meta.name), tree)]


def lint_template(catalog: TemplateCatalog, name: str) -> list[Finding]:
    try:
        rendered = catalog.render(name, check_services=False)
    except TemplateError as exc:
        return [Finding(name, 0, 0, exc.message)]
    tree = parse(rendered.script)
    findings = syntax_findings(name, rendered.script, tree)
    findings += command_findings(name, tree)
    findings += service_findings(rendered, tree)
    if not catalog.is_fragment(name):
        findings += param_block_findings(rendered, tree)
    return findings
