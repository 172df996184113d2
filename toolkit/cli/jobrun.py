"""What every bulk command does around a job: progress, results file, summary, exit code."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import click

from toolkit.cli.main import AppContext
from toolkit.cli.output import emit
from toolkit.cli.progress import JobProgress
from toolkit.core.errors import PartialFailure
from toolkit.core.jobs import JobPlan, run_plan
from toolkit.core.journal import SENT, Job, Journal
from toolkit.core.runner import RowResult, RunnerSettings, RunSummary
from toolkit.core.session import short_error_id
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.io.results import ResultsWriter

FAILURES_SHOWN = 20
SUMMARY_STATUSES = ("changed", "unchanged", "skipped", "waiting", "failed")


def concurrency_option(function: click.decorators.FC) -> click.decorators.FC:
    options = [
        click.option("--concurrency", type=click.IntRange(1, 64), default=None,
                     help="Pipelines in flight at once (default: the profile's "
                     "max_runspaces, 3 if unset)."),
        click.option("--chunk-size", type=click.IntRange(1, 5000), default=25,
                     show_default=True, help="Rows per pipeline."),
        click.option("--results", "results_path", type=click.Path(dir_okay=False,
                                                                 path_type=Path),
                     help="Write every row's outcome to this .csv or .json file."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def distributed_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--distributed", is_flag=True,
        help="Send the work to the Celery workers ('psbridge worker') as one task per "
        "chunk, and follow it from the shared store. Needs [store] url and [queue] broker.",
    )(function)


def execute(app: AppContext, target: Target, catalog: TemplateCatalog, plan: JobPlan,
            *, concurrency: int | None, chunk_size: int, results_path: Path | None,
            resume: Job | None = None, skip_rows: tuple[int, ...] = (),
            on_results: Callable[[list[RowResult]], None] | None = None,
            on_start: Callable[[Job], None] | None = None,
            distributed: bool = False) -> RunSummary:
    """Run the plan with a progress display; print the summary; exit 1 if rows failed.

    ``on_results`` and ``on_start`` let a command see each row's outcome and the job as
    they come (e.g. to hand out credentials only for rows that were applied). With
    ``distributed``, the workers run it (a resume always runs here).
    """
    extra_results, extra_start = on_results, on_start
    settings = RunnerSettings(concurrency=concurrency or target.profile.max_runspaces,
                              chunk_size=chunk_size)
    total = plan.total - len(skip_rows)
    if distributed:
        from toolkit.distributed.submit import check_distributable

        check_distributable(target.profile)
    with contextlib.ExitStack() as stack:
        journal = stack.enter_context(Journal())
        writer = stack.enter_context(ResultsWriter(results_path)) if results_path else None
        progress = JobProgress(total, label=plan.task)

        def on_results(results: list[RowResult]) -> None:
            progress.update(results)
            if writer is not None:
                writer.write(results)
            if extra_results is not None:
                extra_results(results)

        def on_start(job: Job) -> None:
            if extra_start is not None:
                extra_start(job)
            tenant = f", tenant {target.tenant}" if target.tenant else ""
            click.echo(f"job {job.id}: {plan.task}, {total} row(s) on profile "
                       f"{target.profile.name}{tenant}", err=True)
            progress.begin()

        with progress:
            if distributed:
                from toolkit.distributed.submit import run_plan_distributed

                job, summary = run_plan_distributed(target, catalog, plan,
                                                    chunk_size=chunk_size,
                                                    on_results=on_results, on_start=on_start)
            else:
                job, summary = run_plan(target, catalog, plan, journal, settings,
                                        on_results=on_results, on_start=on_start,
                                        resume=resume, skip_rows=skip_rows)
    print_summary(app, job, summary)
    if distributed:
        with Journal() as journal:
            unknown = journal.rows_in(job.id, [SENT])
        if unknown:  # a worker died with these rows in flight
            raise PartialFailure(
                f"{len(unknown)} row(s) of job {job.id} were in flight on a worker that "
                "stopped; their outcome is unknown",
                hint=f"psbridge jobs resume {job.id} (add --rerun-unknown for templates "
                "that are safe to run twice)")
    if summary.counts["failed"]:
        raise PartialFailure(
            f"{summary.counts['failed']} of {summary.total} row(s) failed (job {job.id})",
            hint=f"psbridge jobs show {job.id} --failed lists them; fix and run again.",
        )
    return summary


def print_summary(app: AppContext, job: Job, summary: RunSummary) -> None:
    counts = ", ".join(f"{summary.counts[s]} {s}"
                       for s in SUMMARY_STATUSES
                       if summary.counts[s])
    if app.output != "table":
        rows = [{"job": job.id, "status": s, "rows": summary.counts[s],
                 "seconds": round(summary.elapsed, 3)}
                for s in SUMMARY_STATUSES if summary.counts[s]]
        emit(app, rows, ["job", "status", "rows", "seconds"])
        return
    click.echo(f"job {job.id}: {counts or 'no rows'} ({summary.total} row(s) in "
               f"{summary.elapsed:.1f}s)")
    if summary.failures:
        failures = [{"row": f.row, "key": f.key,
                     "error": short_error_id(f.error_id, reason=f.reason),
                     "message": f.message or ""} for f in summary.failures[:FAILURES_SHOWN]]
        emit(app, failures, ["row", "key", "error", "message"], title="failed rows")
        if len(summary.failures) > FAILURES_SHOWN:
            click.echo(f"... and {len(summary.failures) - FAILURES_SHOWN} more")


def end_dry_run(rows: int, failing: int, what: str = "row(s)") -> None:
    """Close a dry run with its count; exit 1 when rows would fail, as the run would."""
    if failing:
        raise PartialFailure(f"dry run: {failing} of {rows} {what} would fail (see the "
                             "plan above); nothing was changed",
                             hint="Fix them, or run without --dry-run to apply the rest.")
    click.echo(f"dry run: {rows} {what} planned; nothing was changed", err=True)
