"""Compile a tree-sitter syntax tree into Python closures, once per script text.

Every statement becomes ``fn(ctx, out)`` and every expression ``fn(ctx) -> value``; the
tree is walked only here, so running a loop costs closure calls, not node dispatch.
Anything without a handler raises :class:`UnsupportedConstruct` naming it and its line.
The compiler is built in layers, one module each (see :class:`.nodes.CompilerBase`).
"""

from __future__ import annotations

from functools import lru_cache

from toolkit.sandbox.pwsh.compiler.statements import Compiler
from toolkit.sandbox.pwsh.parser import parse
from toolkit.sandbox.pwsh.runtime import Body


@lru_cache(maxsize=256)
def compile_script(source: str) -> Body:
    """Parse and compile a script; cached by its text (templates repeat verbatim)."""
    root, data = parse(source)
    return Compiler(data).program(root)
