"""Native built-in cmdlets scripts commonly use (not from cmdlets.json), one module per family.

Each receives the whole input stream (``items`` is None when the command is first in its
pipeline), so ``Sort-Object`` can collect and ``Select-Object -First`` can stop early.
The family modules register their commands in :mod:`.registry` when imported, here.
"""

from toolkit.sandbox.pwsh.builtins import conversion, objects, pipeline, session, streams
from toolkit.sandbox.pwsh.builtins.registry import NativeCommand, find_builtin

__all__ = [
    "NativeCommand",
    "conversion",
    "find_builtin",
    "objects",
    "pipeline",
    "session",
    "streams",
]
