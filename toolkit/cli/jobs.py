"""``psbridge jobs``: the job store: list, show, resume."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path

import click

from toolkit.cli.context import AppContext
from toolkit.cli.jobrun import concurrency_option
from toolkit.cli.output import emit, outcome
from toolkit.core.errors import PartialFailure


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
def jobs() -> None:
    """List, inspect and resume bulk jobs (kept in the job store under the data folder)."""


@jobs.command("list")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--agent", metavar="NAME",
              help="Only jobs this agent started (the profile's 'agent', else the OS user).")
@click.pass_obj
def list_(app: AppContext, limit: int, agent: str | None) -> None:
    """The most recent jobs with their status, who started them and row counts.

    With a shared store ('[store] url'), every agent's jobs are listed.
    """
    with app.workspace() as ws:
        listed = ws.jobs.listing(limit, agent=agent)
    rows = [{"id": e.job.id, "task": e.job.task, "profile": e.job.profile,
             "tenant": e.job.tenant or "", "started": _when(e.job.started),
             "status": e.job.status, "agent": e.job.agent,
             "rows": ", ".join(f"{n} {s}" for s, n in sorted(e.counts.items()))}
            for e in listed]
    emit(app, rows, ["id", "task", "profile", "tenant", "started", "status", "agent", "rows"],
         title="Jobs")


@jobs.command()
@click.argument("job_id")
@click.option("--failed", "only_failed", is_flag=True, help="Only failed and unknown rows.")
@click.pass_obj
def show(app: AppContext, job_id: str, only_failed: bool) -> None:
    """A job's settings and every row's outcome."""
    with app.workspace() as ws:
        report = ws.jobs.report(job_id, only_failed=only_failed)
    job = report.job
    if app.output == "table":
        click.echo(f"job {job.id}: {job.task} on profile {job.profile}"
                   + (f", tenant {job.tenant}" if job.tenant else ""))
        click.echo(f"status {job.status}, started {_when(job.started)}, "
                   f"ended {_when(job.ended) or '-'}")
        if job.input_path:
            click.echo(f"input {job.input_path} (sha256 {job.input_sha256})")
    emit(app, [asdict(row) for row in report.rows], ["row", "key", "status", "error", "message"])


@jobs.command()
@click.argument("job_id")
@click.option("--rerun-unknown", is_flag=True,
              help="Also run rows that were in flight when the job stopped (their outcome "
              "is unknown). Only for templates that are safe to run twice.")
@click.option("--retry-failed", is_flag=True,
              help="Also run again the failed rows whose error was transient (retries "
              "exhausted, throttling, the account's connection limit); rows that failed "
              "for good stay failed.")
@concurrency_option
@click.pass_obj
def resume(app: AppContext, job_id: str, rerun_unknown: bool, retry_failed: bool,
           concurrency: int | None, chunk_size: int, results_path: Path | None) -> None:
    """Finish an interrupted or crashed job: rows with an outcome are skipped.

    The input file must be unchanged (its hash is checked). Rows that were in flight when
    the job stopped are reported as unknown and left alone unless --rerun-unknown is given.
    Failed rows are left as they are unless --retry-failed is given: then those whose
    error was transient are planned and run again (a planner first re-reads the tenant).
    """
    from toolkit.cli.credentials import report_undelivered
    from toolkit.cli.jobrun import run_shown

    report_undelivered()
    with app.workspace() as ws:
        job, resumption, again = ws.jobs.plan_resume(job_id, rerun_unknown=rerun_unknown,
                                                     retry_failed=retry_failed)
        if retry_failed:
            click.echo(f"{again} failed row(s) with a transient error will be run again",
                       err=True)
        if resumption is None:
            outcome(app, f"job {job.id} is already complete; nothing to do",
                    {"job": job.id, "status": job.status, "resumed": False})
            return
        unknown = resumption.unknown
        if unknown:
            listed = ", ".join(map(str, sorted(unknown)[:20]))
            click.echo(f"{len(unknown)} row(s) were in flight when the job stopped and their "
                       f"outcome is unknown: {listed}" + (" ..." if len(unknown) > 20 else ""),
                       err=True)
        run_shown(app, ws, resumption.plan.task,
                  lambda: ws.jobs.run_resumption(job, resumption, concurrency=concurrency,
                                                 chunk_size=chunk_size, results=results_path))
    if unknown:
        raise PartialFailure(
            f"{len(unknown)} row(s) of job {job.id} have an unknown outcome",
            hint=f"Check them in the tenant, or: psbridge jobs resume {job.id} --rerun-unknown",
        )
