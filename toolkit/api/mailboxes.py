"""``ws.mailboxes``: mailbox settings in bulk (POP and IMAP client access)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.api.jobs import DEFAULT_CHUNK, run_job
from toolkit.api.results import JobRun

if TYPE_CHECKING:
    from toolkit.api.workspace import Workspace
    from toolkit.core.jobs import JobPlan


class Mailboxes:
    """``ws.mailboxes``."""

    def __init__(self, workspace: Workspace):
        self._ws = workspace

    def plan_protocols(self, source: Path | str | None = None, *,
                       mailboxes: Sequence[str] = (), pop: bool | None = None,
                       imap: bool | None = None) -> JobPlan:
        """The job switching POP/IMAP access for a CSV (Mailbox, Pop, Imap) or for
        ``mailboxes``; every row must name a mailbox of the tenant (else nothing runs)."""
        from toolkit.tasks.mailbox.protocols import plan_request, refuse_unknown_mailboxes

        path = Path(source) if source is not None else None
        plan = plan_request(path, mailboxes, pop, imap)
        refuse_unknown_mailboxes(self._ws.target, self._ws.catalog, plan,
                                 str(path) if path is not None else "--mailbox")
        return plan

    def protocols(self, source: Path | str | None = None, *, mailboxes: Sequence[str] = (),
                  pop: bool | None = None, imap: bool | None = None,
                  concurrency: int | None = None, chunk_size: int = DEFAULT_CHUNK,
                  results: Path | None = None) -> JobRun:
        """Switch POP and IMAP access on (True) or off (False); None leaves it as it is.
        Mailboxes already as asked are counted unchanged."""
        plan = self.plan_protocols(source, mailboxes=mailboxes, pop=pop, imap=imap)
        return self.run(plan, concurrency=concurrency, chunk_size=chunk_size, results=results)

    def run(self, plan: JobPlan, *, concurrency: int | None = None,
            chunk_size: int = DEFAULT_CHUNK, results: Path | None = None) -> JobRun:
        return run_job(self._ws.target, self._ws.catalog, plan, concurrency=concurrency,
                       chunk_size=chunk_size, results_path=results,
                       progress=self._ws.progress)
