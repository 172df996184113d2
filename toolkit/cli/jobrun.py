"""What every bulk command does around a job: progress, results file, summary, exit code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from toolkit.api.results import Job, JobEvent, JobRun, RowReport, RunSummary
from toolkit.cli.context import AppContext
from toolkit.cli.output import emit
from toolkit.cli.progress import JobProgress
from toolkit.core.errors import PartialFailure

if TYPE_CHECKING:
    from toolkit.api import Workspace

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


class JobDisplay:
    """The progress of a job on stderr: a line naming the job as it starts, then a bar
    (plain periodic lines off a terminal). Pass it as the API's ``progress``."""

    def __init__(self, task: str):
        self.task = task
        self._progress: JobProgress | None = None

    def __call__(self, event: JobEvent) -> None:
        if event.kind == "started":
            tenant = f", tenant {event.tenant}" if event.tenant else ""
            click.echo(f"job {event.job.id}: {self.task}, {event.total} row(s) on profile "
                       f"{event.profile}{tenant}", err=True)
            self._progress = JobProgress(event.total, label=self.task).__enter__()
            self._progress.begin()
        elif self._progress is not None:
            self._progress.update(list(event.results))

    def __enter__(self) -> JobDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)


def run_shown(app: AppContext, ws: Workspace, task: str, work: Callable[[], JobRun]
              ) -> JobRun:
    """Run ``work`` (an API call that runs a job in ``ws``) with the job's progress on
    screen, then print its summary; exit 1 when rows failed."""
    with JobDisplay(task) as display:
        ws.progress = display
        try:
            run = work()
        finally:
            ws.progress = None
    finish(app, run)
    return run


def finish(app: AppContext, run: JobRun) -> None:
    """Print a job's summary; exit 1 when rows failed or their outcome is unknown."""
    job, summary = run.job, run.summary
    print_summary(app, job, summary)
    if run.unknown:  # a worker died with these rows in flight
        raise PartialFailure(
            f"{len(run.unknown)} row(s) of job {job.id} were in flight on a worker that "
            "stopped; their outcome is unknown",
            hint=f"psbridge jobs resume {job.id} (add --rerun-unknown for templates "
            "that are safe to run twice)")
    if summary.counts["failed"]:
        raise PartialFailure(
            f"{summary.counts['failed']} of {summary.total} row(s) failed (job {job.id})",
            hint=f"psbridge jobs show {job.id} --failed lists them; fix and run again.",
        )


def print_summary(app: AppContext, job: Job, summary: RunSummary) -> None:
    counts = ", ".join(f"{summary.counts[s]} {s}"
                       for s in SUMMARY_STATUSES
                       if summary.counts[s])
    if app.output != "table":
        rows = [{"job": job.id, "status": s, "rows": summary.counts[s],
                 "seconds": round(summary.elapsed, 3)}
                for s in SUMMARY_STATUSES if summary.counts[s]]
        emit(app, rows, ["job", "status", "rows", "seconds"], title="summary")
        return
    click.echo(f"job {job.id}: {counts or 'no rows'} ({summary.total} row(s) in "
               f"{summary.elapsed:.1f}s)")
    if summary.failures:
        failures = [asdict(RowReport.of_result(f)) for f in summary.failures[:FAILURES_SHOWN]]
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
