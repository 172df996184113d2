"""What the global options set, handed to every command as ``ctx.obj``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toolkit.api import Workspace


@dataclass
class AppContext:
    """What the global options set; every command reads it from ``ctx.obj``."""

    profile_name: str | None = None
    tenant: str | None = None
    output: str = "table"
    verbose: int = 0
    traceback: bool = False

    def workspace(self) -> Workspace:
        """The API's workspace for ``--profile`` and ``--tenant`` (opened on first use)."""
        from toolkit.api import Workspace

        return Workspace(self.profile_name, self.tenant)
