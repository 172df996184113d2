"""Running a template as a job: rows from a CSV through the runner, recorded in the journal.

Every bulk command (generic ``task run``, permissions, migrations, activation) ends up
here with a :class:`JobPlan`. The plan holds what is needed to run, and to run again on
``jobs resume``: the template, its structural context, its non-row parameters, and the
input file with its hash.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.core.errors import InputError, PsbridgeError, TemplateError
from toolkit.core.journal import PENDING, SENT, WAITING, Job, Journal
from toolkit.core.retry import TransientFailure, classify, retrying
from toolkit.core.runner import RowResult, Runner, RunnerSettings, RunSummary, WorkRow
from toolkit.core.session import Connection, PipelineResult, Step
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog, TemplateMeta


@dataclass
class JobPlan:
    """A job ready to run. ``rows`` is called again on resume (it re-reads the input)."""

    task: str
    template: str
    rows: Callable[[], Iterable[WorkRow]]
    total: int
    params: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    input_path: str | None = None
    input_sha256: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    # Which of these rows the tenant already shows as done: asked after a transport fault,
    # so that a change whose answer was lost is not sent twice.
    confirm: Callable[[Target, TemplateCatalog, list[WorkRow]], set[int]] | None = None


@dataclass
class Resumption:
    """How to finish a job: the plan to run again, rows to skip, rows left unknown."""

    plan: JobPlan
    skip_rows: set[int]
    unknown: set[int] = field(default_factory=set)


class RoleRefused(InputError):
    """A helpdesk profile asked for an admin template: refused before anything is sent."""


def check_role(meta: TemplateMeta, target: Target) -> None:
    if meta.role == "admin" and target.profile.role == "helpdesk":
        raise RoleRefused(
            f"template {meta.name} needs the admin role; profile {target.profile.name} "
            "is a helpdesk profile",
            hint="Ask an administrator, or use an admin profile (--profile).",
        )


def pipeline_steps(target: Target, catalog: TemplateCatalog, meta: TemplateMeta,
                   script: str, params: Mapping[str, Any],
                   connection: Connection | None = None) -> list[Step]:
    """Connect blocks for the services the runspace lacks, then the template itself."""
    return [*target.connect_steps(meta.services, catalog, connection),
            Step(script, dict(params))]


def run_once(target: Target, catalog: TemplateCatalog, template: str,
             params: Mapping[str, Any], context: Mapping[str, Any] | None = None
             ) -> PipelineResult:
    """Run a template once (no rows), e.g. a read-only listing."""
    rendered = catalog.render(template, context)
    check_role(rendered.meta, target)
    result: PipelineResult | None = None
    with contextlib.suppress(TransientFailure):
        for attempt in retrying():
            with attempt, target.open_connection() as connection:
                result = connection.run(pipeline_steps(
                    target, catalog, rendered.meta, rendered.script, params, connection))
                _wait_for_a_free_connection(result)
    assert result is not None  # the retries end with a result or an exception
    return result


def _wait_for_a_free_connection(result: PipelineResult) -> None:
    """Raise TransientFailure when the account's connections are all in use: the connect
    block failed before the template ran, so trying again later is safe."""
    error = result.errors[-1] if result.failed and result.errors else None
    if error is None:
        return
    verdict = classify(error.error_id, error.category, error.message)
    if verdict.connection_limit:
        raise TransientFailure(error.message, retry_after=verdict.retry_after,
                               connection_limit=True)


def run_plan(
    target: Target,
    catalog: TemplateCatalog,
    plan: JobPlan,
    journal: Journal,
    settings: RunnerSettings,
    *,
    on_results: Callable[[list[RowResult]], None] | None = None,
    on_start: Callable[[Job], None] | None = None,
    resume: Job | None = None,
    skip_rows: Sequence[int] = (),
) -> tuple[Job, RunSummary]:
    """Run (or resume) a plan through the runner; the job's final state is recorded."""
    rendered = catalog.render(plan.template, plan.context)
    meta = rendered.meta
    check_role(meta, target)
    row_param = meta.row_param
    if row_param is None:
        raise TemplateError(f"template {meta.name} takes no rows",
                            hint="Run it without --csv.")
    # Sign in before the job exists: a profile that cannot sign in changes nothing.
    target.connect_steps(meta.services, catalog)
    if resume is None:
        job = journal.start_job(
            task=plan.task, profile=target.profile.name, tenant=target.tenant,
            input_path=plan.input_path, input_sha256=plan.input_sha256,
            options={**plan.options, "template": plan.template},
        )
    else:
        job = resume
        journal.reopen_job(job.id)
    if on_start is not None:
        on_start(job)
    skipped = set(skip_rows)

    def make_steps(rows: list[dict[str, Any]], connection: Connection) -> list[Step]:
        return pipeline_steps(target, catalog, meta, rendered.script,
                              {**plan.params, row_param.name: rows}, connection)

    runner = Runner(
        open_connection=target.open_connection,
        make_steps=make_steps,
        journal_path=journal.path,
        job_id=job.id,
        settings=settings,
        secret_columns=meta.secret_columns,
        on_results=on_results,
        confirm=(None if plan.confirm is None
                 else functools.partial(plan.confirm, target, catalog)),
    )
    status = "failed"
    try:
        summary = runner.run(w for w in plan.rows() if w.row not in skipped)
        left = journal.counts(job.id)
        if left.get(SENT) or left.get(PENDING) or left.get(WAITING):
            status = "incomplete"  # rows skipped as unknown, or waiting: resume again
        else:
            status = "partial" if left.get("failed") else "completed"
        return job, summary
    except PsbridgeError as exc:
        status = "interrupted" if exc.exit_code == 130 else "failed"
        raise
    finally:
        journal.finish_job(job.id, status)


def resume_state(journal: Journal, job: Job, input_path: Path | None,
                 current_sha256: str | None) -> tuple[set[int], set[int]]:
    """Rows done (with an outcome) and rows unknown (sent, no answer) of a job to resume.

    Refuses when the input changed since the job started.
    """
    if job.input_sha256 and current_sha256 != job.input_sha256:
        raise InputError(
            f"{input_path}: the file changed since job {job.id} started "
            "(its hash differs); resuming would mix two inputs",
            hint="Restore the original file, or start a new job with it.",
        )
    unknown = journal.rows_in(job.id, [SENT])
    pending = journal.rows_in(job.id, [PENDING, WAITING])
    everything = {o.row for o in journal.outcomes(job.id)}
    return everything - unknown - pending, unknown
