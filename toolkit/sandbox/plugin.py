"""What the product may use of the sandbox, and nothing else.

psbridge finds this module through the entry point ``psbridge.sandbox`` (pyproject.toml)
and never imports ``toolkit.sandbox`` by name, so the sandbox can be left out of an
install, or replaced, without touching the product.

Each name is imported when first used: a command on the embedded profile only finds (or
starts) the shared server process, and must not pay for importing the server and its
PowerShell engine (a third of the command's start-up).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "DEFAULT_HOST_MODULES": "toolkit.sandbox.pwsh.runspace",
    "DEFAULT_USERNAME": "toolkit.sandbox.server",
    "RunningSandbox": "toolkit.sandbox.server",
    "SandboxOptions": "toolkit.sandbox.server",
    "SandboxUnavailable": "toolkit.sandbox.errors",
    "connect_shared": "toolkit.sandbox.shared",
    "read_record": "toolkit.sandbox.shared",
    "settle_heap": "toolkit.sandbox.server",
    "start_sandbox": "toolkit.sandbox.server",
    "stop_shared": "toolkit.sandbox.shared",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
