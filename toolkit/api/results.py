"""What the API hands back: job events for progress, and typed outcomes of a run."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.core.journal import SENT, Job, RowOutcome
from toolkit.core.pipeline_results import short_error_id
from toolkit.core.runner import RowResult, RunSummary
from toolkit.io.plain_text import mixed_scripts, visible
from toolkit.io.results import excel_safe

# The job record, a row's outcome and a run's summary are part of the API's vocabulary:
# the CLI names them from here, guards cells it writes as CSV with ``excel_safe`` and
# prints tenant and CSV strings through ``visible`` (the HTML reports use it too).
__all__ = ["AuditResult", "ChangeResult", "Job", "JobEvent", "JobListing", "JobReport",
           "JobRun", "Progress", "RowReport", "RowResult", "RunSummary", "excel_safe",
           "mixed_scripts", "visible"]

if TYPE_CHECKING:
    from toolkit.tasks.permissions.changes import Plan
    from toolkit.tasks.permissions.snapshots import Grant, Snapshot


@dataclass(frozen=True)
class JobEvent:
    """One step of a running job: ``started`` (no results yet) or ``rows`` (a chunk's
    outcomes, as they come back, from any thread). ``profile`` and ``tenant``: where the
    job runs (a resumed job can run on another profile than the one that started it)."""

    kind: str
    job: Job
    total: int
    profile: str
    tenant: str | None
    results: Sequence[RowResult] = ()


Progress = Callable[[JobEvent], None]


@dataclass
class JobRun:
    """A job that ran (or resumed): its record, its summary, and the rows whose outcome is
    unknown (in flight on a worker that stopped)."""

    job: Job
    summary: RunSummary
    unknown: Sequence[int] = ()


@dataclass(frozen=True)
class RowReport:
    """A row's outcome as reported: ``unknown`` when it was in flight when its job stopped,
    and its error by the stable name a script or a person can match on."""

    row: int
    key: str
    status: str
    error: str
    message: str

    @classmethod
    def of_result(cls, result: RowResult) -> RowReport:
        """The outcome of a row that just ran."""
        return cls(result.row, result.key, result.status,
                   short_error_id(result.error_id, reason=result.reason), result.message or "")

    @classmethod
    def of_outcome(cls, outcome: RowOutcome) -> RowReport:
        """The outcome recorded in the job store."""
        return cls(outcome.row, outcome.key,
                   "unknown" if outcome.status == SENT else outcome.status,
                   short_error_id(outcome.error_id), outcome.message or "")


@dataclass(frozen=True)
class JobListing:
    """A stored job and how many of its rows are in each status."""

    job: Job
    counts: Mapping[str, int]


@dataclass(frozen=True)
class JobReport:
    """A stored job and its rows' outcomes, in row order."""

    job: Job
    rows: Sequence[RowReport]


@dataclass
class ChangeResult:
    """A permissions change: the plan it followed and the counts of its outcomes.

    Rows the tenant already matched are ``unchanged`` without being sent; ``run`` is None
    for a dry run or when nothing needed changing. Counts, not row lists, so that a run of
    a million rows holds no more than its failures.
    """

    plan: Plan
    run: JobRun | None = None

    def _count(self, status: str) -> int:
        return self.run.summary.counts[status] if self.run is not None else 0

    @property
    def changed(self) -> int:
        return self._count("changed")

    @property
    def unchanged(self) -> int:
        return len(self.plan.unchanged) + self._count("unchanged")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def failures(self) -> list[RowResult]:
        return self.run.summary.failures if self.run is not None else []


@dataclass
class AuditResult:
    """A finished audit: its snapshot (saved in the store) and, iterated, its grants."""

    snapshot: Snapshot

    def grants(self, trustee: str | None = None) -> Iterator[Grant]:
        """The snapshot's grants in order (only ``trustee``'s with one), read from the store
        as they are used."""
        from toolkit.tasks.permissions.snapshots import SnapshotStore

        with SnapshotStore() as store:
            yield from store.rows(self.snapshot.id, trustee)

    def __iter__(self) -> Iterator[Grant]:
        return self.grants()

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Mailboxes that could not be read (``mailbox``, ``message``)."""
        return list(self.snapshot.failures)
