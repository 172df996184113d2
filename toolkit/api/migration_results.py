"""What ``ws.migrations`` hands back besides batch states: server checks, batch actions, a
watch's end, a written report, and the preview of a start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.tasks.migration.hosts import Server
from toolkit.tasks.migration.status import BatchState, outcome


@dataclass(frozen=True)
class SourceServer:
    """The IMAP server a migration (or a test) uses; ``pop_host`` is the POP host it
    replaced, when one was given (Exchange Online migrates from IMAP only)."""

    server: Server
    pop_host: str | None = None

    def __str__(self) -> str:
        return str(self.server)


@dataclass(frozen=True)
class ServerCheck:
    """One check of ``migrate imap test`` that passed: ``server`` as shown, what was
    checked."""

    server: str
    check: str
    ok: bool = True


@dataclass(frozen=True)
class BatchAction:
    """What Exchange answered for one batch asked to stop, start or be removed."""

    batch: str
    ok: bool
    status: str | None
    message: str | None


@dataclass
class MigrationWatch:
    """Batches as the last poll of a watch saw them: ``settled`` when every user synced
    or failed (else the watch timed out), ``ok`` when every user synced."""

    batches: list[BatchState]

    @property
    def settled(self) -> bool:
        return all(b.settled for b in self.batches)

    @property
    def ok(self) -> bool:
        return outcome(self.batches)[0]

    @property
    def summary(self) -> str:
        """One line: users per outcome, and the batches not running."""
        return outcome(self.batches)[1]

    @property
    def failed(self) -> list[str]:
        """The batches to resume: those with failed users (every batch when none has)."""
        return ([b.name for b in self.batches if b.counts["failed"]]
                or [b.name for b in self.batches])


@dataclass(frozen=True)
class MigrationReport:
    """A report written by :meth:`Migrations.report`."""

    path: Path
    users: int
    batches: int


@dataclass
class MigrationPreview:
    """What starting a planned migration sends: its job's task, the template and its
    script, and each row (one per batch) with what is secret masked (the CSV data)."""

    task: str
    template: str
    script: str
    rows: list[tuple[int, dict[str, Any]]]
