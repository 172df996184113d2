"""psbridge: Exchange Online and Microsoft Graph chores over remote PowerShell.

``from toolkit import Workspace`` is the Python API (see :mod:`toolkit.api`). It is loaded
on first use, so that the CLI's start-up imports nothing it does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.api import Workspace

__all__ = ["Workspace"]


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from toolkit.api import Workspace

        return Workspace
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
