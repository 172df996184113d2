"""``ws.perms``: grant, revoke, apply in bulk, offboard, and audit mailbox permissions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.api.jobs import DEFAULT_CHUNK, record_unchanged, run_job
from toolkit.api.perms_audits import PermissionAudits
from toolkit.api.perms_drift import PermissionDrift
from toolkit.api.perms_lookups import PermissionLookups
from toolkit.api.results import ChangeResult
from toolkit.core.chunks import chunked
from toolkit.core.journal import Job
from toolkit.core.runner import RowResult

if TYPE_CHECKING:
    from toolkit.tasks.permissions.changes import Plan, Request
    from toolkit.tasks.permissions.rows import PermRow

# A request and its plan, as the CLI shows them before running.
__all__ = ["Permissions", "Plan", "Request"]
UNCHANGED_BATCH = 1000  # rows left alone, recorded and written this many at a time


class Permissions(PermissionAudits, PermissionDrift, PermissionLookups):
    """``ws.perms``. Every change reads the tenant first and sends only what differs;
    rows already true are counted as unchanged. Changes run as resumable jobs. Reading:
    audits into snapshots (:class:`PermissionAudits`), drift between them
    (:class:`PermissionDrift`), and lookups both ways (:class:`PermissionLookups`)."""

    # One call each: plan and run.

    def grant(self, mailbox: str, trustee: str, rights: Iterable[str], *,
              automapping: bool | None = None, dry_run: bool = False) -> ChangeResult:
        """Give ``trustee`` each of ``rights`` (FullAccess, SendAs, SendOnBehalf) on
        ``mailbox``; a right already held is unchanged."""
        return self._finish(self.plan_grant(mailbox, trustee, rights,
                                            automapping=automapping, dry_run=dry_run),
                            dry_run=dry_run)

    def revoke(self, mailbox: str, trustee: str, rights: Iterable[str], *,
               dry_run: bool = False) -> ChangeResult:
        """Take ``rights`` on ``mailbox`` away from ``trustee`` (an address or an
        orphaned SID); a right not held is unchanged."""
        return self._finish(self.plan_revoke(mailbox, trustee, rights, dry_run=dry_run),
                            dry_run=dry_run)

    def apply(self, source: Path | str | Iterable[Mapping[str, Any]], *,
              dry_run: bool = False, concurrency: int | None = None,
              chunk_size: int = DEFAULT_CHUNK, results: Path | None = None,
              distributed: bool = False) -> ChangeResult:
        """Grant and revoke in bulk: a CSV file (Mailbox,Trustee,Right,Action[,AutoMapping])
        or rows given as mappings with those keys. Every problem is raised before anything
        is read or sent."""
        request = self.plan_apply(source, dry_run=dry_run, concurrency=concurrency)
        if dry_run:
            return ChangeResult(request.plan)
        return self.run(request, concurrency=concurrency, chunk_size=chunk_size,
                        results=results, distributed=distributed)

    def revoke_all(self, user: str, *, dry_run: bool = False,
                   concurrency: int | None = None, chunk_size: int = DEFAULT_CHUNK,
                   results: Path | None = None) -> ChangeResult:
        """Offboarding: revoke every FullAccess, SendAs and SendOnBehalf ``user`` holds on
        any mailbox of the tenant."""
        request = self.plan_revoke_all(user, dry_run=dry_run, concurrency=concurrency)
        if dry_run:
            return ChangeResult(request.plan)
        return self.run(request, concurrency=concurrency, chunk_size=chunk_size,
                        results=results)

    def _finish(self, request: Request, *, dry_run: bool) -> ChangeResult:
        """One mailbox and trustee: the plan alone (dry run), else run one at a time."""
        if dry_run:
            return ChangeResult(request.plan)
        return self.run(request, concurrency=1)

    # Two steps, for callers that show the plan before it runs.

    def plan(self, task: str, rows: list[PermRow], *, dry_run: bool = False,
             concurrency: int | None = None) -> Request:
        """Read the tenant and plan ``rows`` (from :func:`single_rows` or a CSV)."""
        from toolkit.tasks.permissions.changes import plan_request

        return plan_request(self._ws.target, self._ws.catalog, task, rows,
                            concurrency=concurrency, will_apply=not dry_run)

    def plan_grant(self, mailbox: str, trustee: str, rights: Iterable[str], *,
                   automapping: bool | None = None, dry_run: bool = False) -> Request:
        """Plan :meth:`grant` (the rights are checked before the tenant is read)."""
        from toolkit.tasks.permissions.rows import single_rows

        rows = single_rows(mailbox, trustee, rights, "grant", automapping)
        return self.plan("perms grant", rows, dry_run=dry_run, concurrency=1)

    def plan_revoke(self, mailbox: str, trustee: str, rights: Iterable[str], *,
                    dry_run: bool = False) -> Request:
        """Plan :meth:`revoke` (the rights are checked before the tenant is read)."""
        from toolkit.tasks.permissions.rows import single_rows

        rows = single_rows(mailbox, trustee, rights, "revoke")
        return self.plan("perms revoke", rows, dry_run=dry_run, concurrency=1)

    def plan_apply(self, source: Path | str | Iterable[Mapping[str, Any]], *,
                   dry_run: bool = False, concurrency: int | None = None) -> Request:
        from toolkit.tasks.permissions.changes import plan_request
        from toolkit.tasks.permissions.rows import PermissionCsv, rows_from

        csv = PermissionCsv(Path(source)) if isinstance(source, (str, Path)) else None
        if csv is not None:
            csv.validate()  # every problem of the file; its rows are read as used
        rows = [] if csv is not None else rows_from(source)  # type: ignore[arg-type]
        return plan_request(self._ws.target, self._ws.catalog, "perms apply", rows, csv=csv,
                            concurrency=concurrency, will_apply=not dry_run)

    def plan_revoke_all(self, user: str, *, dry_run: bool = False,
                        concurrency: int | None = None) -> Request:
        from toolkit.tasks.permissions.changes import plan_request
        from toolkit.tasks.permissions.rows import parse_argument, parse_trustee

        user = parse_argument(parse_trustee, user, "USER")
        return plan_request(self._ws.target, self._ws.catalog, "perms revoke-all", [],
                            revoke_all=user, concurrency=concurrency,
                            will_apply=not dry_run)

    def run(self, request: Request, *, concurrency: int | None = None,
            chunk_size: int = DEFAULT_CHUNK, results: Path | None = None,
            distributed: bool = False,
            on_start: Callable[[Job], None] | None = None) -> ChangeResult:
        """Apply a planned request as a job. Rows left alone are recorded in the job and
        the results file too, so both list every row of the request. Nothing to change:
        no job (``run`` is None)."""
        from toolkit.io.results import ResultsWriter

        plan = request.plan

        def unchanged() -> Iterator[list[RowResult]]:  # in batches: a file is not held
            for batch in chunked(plan.unchanged, UNCHANGED_BATCH):
                yield [RowResult(row.line, "unchanged", row.key, reason, keys=row.keys)
                       for row, reason in batch]

        if results is not None:
            with ResultsWriter(results) as writer:
                for batch in unchanged():  # the run's own rows follow in the same file
                    writer.write(batch)
        if not plan.changes:
            return ChangeResult(plan)

        def started(job: Job) -> None:
            for batch in unchanged():
                record_unchanged(job, batch)
            if on_start is not None:
                on_start(job)

        run = run_job(self._ws.target, self._ws.catalog, request.job(),
                      concurrency=concurrency, chunk_size=chunk_size, results_path=results,
                      progress=self._ws.progress, on_start=started, distributed=distributed)
        return ChangeResult(plan, run)
