"""Running, resuming and reading jobs: the one path every bulk change takes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.api.results import JobEvent, JobListing, JobReport, JobRun, Progress, RowReport
from toolkit.core.errors import InputError
from toolkit.core.jobs import JobPlan, Resumption, run_plan
from toolkit.core.journal import PENDING, SENT, Job, Journal, RowOutcome
from toolkit.core.runner import RowResult, RunnerSettings
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.io.results import ResultsWriter

if TYPE_CHECKING:
    from toolkit.api.workspace import Workspace

# What run_job takes is named from here too.
__all__ = ["DEFAULT_CHUNK", "Jobs", "record_unchanged", "run_job"]

DEFAULT_CHUNK = 25


def run_job(target: Target, catalog: TemplateCatalog, plan: JobPlan, *,
            concurrency: int | None = None, chunk_size: int = DEFAULT_CHUNK,
            results_path: Path | None = None, progress: Progress | None = None,
            resume: Job | None = None, skip_rows: tuple[int, ...] = (),
            on_start: Callable[[Job], None] | None = None,
            on_results: Callable[[list[RowResult]], None] | None = None,
            distributed: bool = False) -> JobRun:
    """Run (or resume) ``plan``: here through the runner, or on the Celery workers.

    Every row's outcome goes to the job store, to ``results_path`` (.csv, .json, .jsonl)
    and to ``progress``; ``on_start`` sees the job before its first row is sent and
    ``on_results`` each chunk's outcomes (to hand out credentials only for applied rows).
    Failed rows do not raise: they are counted in the summary.
    """
    settings = RunnerSettings(concurrency=concurrency or target.profile.max_runspaces,
                              chunk_size=chunk_size)
    total = plan.total - len(skip_rows)
    if distributed:
        from toolkit.distributed.submit import check_distributable

        check_distributable(target.profile)
    started: list[Job] = []
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(ResultsWriter(results_path)) if results_path else None

        def begun(job: Job) -> None:
            started.append(job)
            if on_start is not None:
                on_start(job)
            if progress is not None:
                progress(JobEvent("started", job, total, target.profile.name, target.tenant))

        def came(results: list[RowResult]) -> None:
            if writer is not None:
                writer.write(results)
            if on_results is not None:
                on_results(results)
            if progress is not None and started:
                progress(JobEvent("rows", started[0], total, target.profile.name,
                                  target.tenant, tuple(results)))

        if distributed:
            from toolkit.distributed.submit import run_plan_distributed

            job, summary = run_plan_distributed(target, catalog, plan, chunk_size=chunk_size,
                                                on_results=came, on_start=begun)
        else:
            journal = stack.enter_context(Journal())
            job, summary = run_plan(target, catalog, plan, journal, settings,
                                    on_results=came, on_start=begun, resume=resume,
                                    skip_rows=skip_rows)
    unknown: list[int] = []
    if distributed:  # rows a worker held when it stopped
        with Journal() as journal:
            unknown = sorted(journal.rows_in(job.id, [SENT]))
    return JobRun(job, summary, unknown)


def record_unchanged(job: Job, results: list[RowResult]) -> None:
    """Rows left alone before the run (the tenant already matched): recorded in the job
    so that it lists every row of the request."""
    with Journal() as journal:
        journal.record_rows(job.id, ((r.row, r.key, {}) for r in results))
        journal.record_outcomes(job.id, [RowOutcome(r.row, r.status, r.key, None, r.message)
                                         for r in results])


class Jobs:
    """``ws.jobs``: the job store, and resuming what stopped."""

    def __init__(self, workspace: Workspace):
        self._ws = workspace

    def recent(self, limit: int = 20, *, agent: str | None = None) -> list[Job]:
        """The most recent jobs, newest first."""
        with Journal() as journal:
            return journal.jobs(limit, agent=agent)

    def listing(self, limit: int = 20, *, agent: str | None = None) -> list[JobListing]:
        """The most recent jobs, newest first, each with its rows counted by status."""
        with Journal() as journal:
            return [JobListing(job, journal.counts(job.id))
                    for job in journal.jobs(limit, agent=agent)]

    def get(self, job_id: str) -> Job:
        with Journal() as journal:
            return journal.job(job_id)

    def outcomes(self, job_id: str) -> list[RowOutcome]:
        """Every row's recorded outcome (``sent``: in flight, outcome unknown)."""
        with Journal() as journal:
            return journal.outcomes(self.get(job_id).id)

    def report(self, job_id: str, *, only_failed: bool = False) -> JobReport:
        """A job (``job_id``, or a part of it naming one job) with its rows' outcomes; with
        ``only_failed``, only the rows that failed or whose outcome is unknown."""
        with Journal() as journal:
            job = journal.job(job_id)
            outcomes = journal.outcomes(job.id)
        return JobReport(job, [RowReport.of_outcome(o) for o in outcomes
                               if not only_failed or o.status in ("failed", SENT)])

    def plan_resume(self, job_id: str, *, rerun_unknown: bool = False,
                    retry_failed: bool = False) -> tuple[Job, Resumption | None, int]:
        """What resuming ``job_id`` would run: the job, its resumption (None when the job
        is already complete), and how many failed rows were put back to run again."""
        from toolkit.core.retry import worth_retrying_later
        from toolkit.tasks.registry import resumer

        with Journal() as journal:
            job = journal.job(job_id)
            again: list[int] = []
            if retry_failed:
                again = [o.row for o in journal.outcomes(job.id) if o.status == "failed"
                         and worth_retrying_later(o.error_id, o.message)]
                journal.mark(job.id, again, PENDING)
            if job.status == "completed":
                return job, None, len(again)
            resume_plan = resumer(job)
            if resume_plan is None:
                raise InputError(f"job {job.id} ({job.task}) cannot be resumed by this "
                                 "version")
            workspace = self._ws.for_job(job)
            resumption = resume_plan(job, journal, workspace.target, workspace.catalog,
                                     rerun_unknown)
        return job, resumption, len(again)

    def resume(self, job_id: str, *, rerun_unknown: bool = False, retry_failed: bool = False,
               concurrency: int | None = None, chunk_size: int = DEFAULT_CHUNK,
               results: Path | None = None) -> JobRun | None:
        """Finish an interrupted job: rows with an outcome are skipped. None when the job
        was already complete. Rows still unknown are in ``JobRun.unknown``."""
        job, resumption, _ = self.plan_resume(job_id, rerun_unknown=rerun_unknown,
                                              retry_failed=retry_failed)
        if resumption is None:
            return None
        run = self.run_resumption(job, resumption, concurrency=concurrency,
                                  chunk_size=chunk_size, results=results)
        run.unknown = sorted(resumption.unknown)
        return run

    def run_resumption(self, job: Job, resumption: Resumption, *,
                       concurrency: int | None = None, chunk_size: int = DEFAULT_CHUNK,
                       results: Path | None = None) -> JobRun:
        """Run what :meth:`plan_resume` planned (rows still unknown are not in the run)."""
        workspace = self._ws.for_job(job)
        return run_job(workspace.target, workspace.catalog, resumption.plan,
                       concurrency=concurrency, chunk_size=chunk_size, results_path=results,
                       progress=self._ws.progress, resume=job,
                       skip_rows=tuple(sorted(resumption.skip_rows)))
