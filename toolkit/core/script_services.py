"""Which services a PowerShell script calls cmdlets of, read from its syntax tree.

psbridge keeps Exchange and Graph in separate runspaces (their modules conflict when
loaded in one process), so a script may call cmdlets of one service only, and a task only
those of the service its metadata lists (its runspace is connected to that one only).
:meth:`~toolkit.core.templates.TemplateCatalog.render` refuses a script that breaks this
rule; ``task lint`` reports each place (:mod:`toolkit.core.lint`). Which module a cmdlet
belongs to comes from Microsoft's parameter metadata (:func:`toolkit.spec.service_of`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

from toolkit import spec

ONE_SERVICE_WHY = ("the Exchange module and the Graph SDK conflict when loaded in one "
                   "process")
SPLIT = "split it into one template per service, run as steps"


@cache
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_powershell

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def parse(script: str) -> Any:
    """The tree-sitter tree of a script."""
    return _parser().parse(script.encode("utf-8"))


def walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def position(node: Any) -> tuple[int, int]:
    """1-based line and column."""
    row, col = node.start_point
    return row + 1, col + 1


def _service_calls(tree: Any) -> list[tuple[str, str, Any]]:
    """Each service the script calls cmdlets of, its first such cmdlet and where, in the
    order of the script."""
    cmdlets = {c.lower(): c for c in spec.cmdlets()}
    first: dict[str, tuple[str, Any]] = {}
    for node in walk(tree.root_node):
        if node.type != "command":
            continue
        name_node = next((c for c in node.children if c.type == "command_name"), None)
        cmdlet = cmdlets.get(name_node.text.decode().lower()) if name_node else None
        service = spec.service_of(cmdlet) if cmdlet else None
        if cmdlet is not None and service is not None:
            first.setdefault(service, (cmdlet, name_node))
    calls = [(service, cmdlet, node) for service, (cmdlet, node) in first.items()]
    return sorted(calls, key=lambda call: call[2].start_point)


def service_problems(services: Sequence[str], task: bool, tree: Any
                     ) -> list[tuple[int, int, str]]:
    """(line, column, problem) for cmdlets of both services in one script, and, in a
    ``task`` (not a connect step or a fragment, which list no services), for cmdlets of a
    service ``services`` does not list."""
    calls = _service_calls(tree)
    problems = []
    if len(calls) > 1:
        (service, cmdlet, _), (other, second, node) = calls[:2]
        problems.append((*position(node),
                         f"calls {second} ({other}) and {cmdlet} ({service}): a script runs "
                         f"in one runspace, which holds one service ({ONE_SERVICE_WHY}); "
                         f"{SPLIT}"))
    for service, cmdlet, node in calls if task else ():
        if service not in services:
            problems.append((*position(node),
                             f"calls {cmdlet} ({service}) but its metadata's services do not "
                             f"list {service}: its runspace is connected to "
                             f"{', '.join(services) or 'no service'} only"))
    return problems
