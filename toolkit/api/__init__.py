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
"""

from toolkit.api.results import AuditResult, ChangeResult, JobEvent, JobRun
from toolkit.api.workspace import Workspace

__all__ = ["AuditResult", "ChangeResult", "JobEvent", "JobRun", "Workspace"]
