"""psbridge as a library: the API the CLI is built on.

    from toolkit import Workspace

    with Workspace() as ws:                      # the CLI's default profile and tenant
        for grant in ws.perms.audit(all=True):   # .mailbox .trustee .right .kind
            print(grant.mailbox, grant.trustee, grant.right)
        result = ws.perms.grant("sales@contoso.com", "adele.vance@contoso.com",
                                rights=["SendAs"])
        print(result.changed, result.unchanged, result.failed)

Errors are those of :mod:`toolkit.core.errors` (each with a ``message``, a ``hint`` and the
CLI's ``exit_code``); failed rows are counted in results, not raised.

The names are loaded on first use: a module of the package (``toolkit.api.sandbox``, say)
is imported without the workspace and everything behind it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.api.results import AuditResult, ChangeResult, JobEvent, JobRun
    from toolkit.api.workspace import Workspace

__all__ = ["AuditResult", "ChangeResult", "JobEvent", "JobRun", "Workspace"]

_HOMES = {"AuditResult": "results", "ChangeResult": "results", "JobEvent": "results",
          "JobRun": "results", "Workspace": "workspace"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"toolkit.api.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'toolkit.api' has no attribute {name!r}")
