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

from toolkit.core.concurrency import AdaptiveLimit
from toolkit.core.errors import (
    ConnectionFailed,
    InputError,
    PsbridgeError,
    TemplateError,
    TransportFault,
)
from toolkit.core.journal import PENDING, SENT, WAITING, Job, Journal
from toolkit.core.retry import TransientFailure, classify, retrying
from toolkit.core.runner import (
    RowResult,
    Runner,
    RunnerSettings,
    RunSummary,
    WorkRow,
)
from toolkit.core.session import Connection, PipelineResult, Step
from toolkit.core.target import Target
from toolkit.core.templates import RenderedScript, TemplateCatalog, TemplateMeta


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


CONNECT_FAULTS = 3  # failed connects in a row before the host's failure is the verdict


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
                   script: str, params: Mapping[str, Any], connection: Connection
                   ) -> list[Step]:
    """The template's step, once ``connection`` holds the services the template needs.

    Connecting is a pipeline of its own that checks the tenant reached (see
    `Target.connect`), so no row is sent to a connection of the wrong tenant.
    """
    target.connect(connection, meta.services, catalog)
    return [Step(script, dict(params))]


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
    verdict = classify(error.error_id, error.category, error.message, reason=error.reason)
    if verdict.connection_limit:
        raise TransientFailure(error.message, retry_after=verdict.retry_after,
                               connection_limit=True)


def rendered_rows_template(target: Target, catalog: TemplateCatalog, plan: JobPlan
                           ) -> RenderedScript:
    """The plan's template, rendered and checked: the profile's role, and that it takes rows."""
    rendered = catalog.render(plan.template, plan.context)
    check_role(rendered.meta, target)
    if rendered.meta.row_param is None:
        raise TemplateError(f"template {rendered.meta.name} takes no rows",
                            hint="Run it without --csv.")
    return rendered


def begin_job(target: Target, catalog: TemplateCatalog, plan: JobPlan, meta: TemplateMeta,
              journal: Journal, resume: Job | None) -> tuple[Job, Connection]:
    """Connect and check the tenant reached, then record the job (or reopen the one being
    resumed). A profile that cannot sign in, or whose connection lands in another tenant,
    changes nothing. Returns the job and the checked connection (the caller's to use, e.g.
    as the runner's first, or to close)."""
    checked = target.open_connection()
    try:
        checked = _connected(target, catalog, meta, checked)
        if resume is not None:
            journal.reopen_job(resume.id)
            return resume, checked
        return journal.start_job(
            task=plan.task, profile=target.profile.name, tenant=target.tenant,
            input_path=plan.input_path, input_sha256=plan.input_sha256,
            options={**plan.options, "template": plan.template},
            agent=target.profile.agent_name,
        ), checked
    except BaseException:
        checked.close()
        raise


def _connected(target: Target, catalog: TemplateCatalog, meta: TemplateMeta,
               connection: Connection) -> Connection:
    """``connection``, or a later one, connected to the template's services. Waits (within
    the retry budget) while the account's connections are all in use; a connect that
    fails on the way (a dropped request, an HTTP 5xx) is tried again on a new connection,
    up to CONNECT_FAULTS times, before the host's failure is the verdict (exit 4)."""
    faults = 0
    try:
        for attempt in retrying():
            with attempt:
                try:
                    target.connect(connection, meta.services, catalog)
                except TransportFault as fault:
                    connection.close()
                    faults += 0 if fault.busy else 1
                    if faults > CONNECT_FAULTS:
                        raise
                    connection = target.open_connection()
                    raise TransientFailure(fault.message,
                                           connection_limit=fault.busy) from fault
    except TransientFailure as busy:
        connection.close()
        raise ConnectionFailed(f"no free connection to the host: {busy}",
                               hint="Other jobs or sessions of this account hold its "
                                    "connections; try again when they end.") from None
    return connection


def plan_runner(target: Target, catalog: TemplateCatalog, plan: JobPlan,
                rendered: RenderedScript, journal_path: Path | str, job_id: str,
                settings: RunnerSettings, *,
                on_results: Callable[[list[RowResult]], None] | None = None,
                limit: AdaptiveLimit | None = None,
                open_connection: Callable[[], Connection] | None = None) -> Runner:
    """The runner that sends a plan's rows to the target through the rendered template
    (a worker passes the ``limit`` it shares with the other workers)."""
    meta = rendered.meta
    row_param = meta.row_param
    assert row_param is not None  # checked by rendered_rows_template

    def make_steps(rows: list[dict[str, Any]], connection: Connection) -> list[Step]:
        return pipeline_steps(target, catalog, meta, rendered.script,
                              {**plan.params, row_param.name: rows}, connection)

    return Runner(
        open_connection=open_connection or target.open_connection,
        make_steps=make_steps,
        journal_path=journal_path,
        job_id=job_id,
        settings=settings,
        secret_columns=meta.secret_columns,
        on_results=on_results,
        limit=limit,
        confirm=(None if plan.confirm is None
                 else functools.partial(plan.confirm, target, catalog)),
    )


def final_status(journal: Journal, job_id: str) -> str:
    """What a job that ran to its end is: completed, partial (rows failed) or incomplete."""
    left = journal.counts(job_id)
    if left.get(SENT) or left.get(PENDING) or left.get(WAITING):
        return "incomplete"  # rows skipped as unknown, or waiting: resume again
    return "partial" if left.get("failed") else "completed"


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
    rendered = rendered_rows_template(target, catalog, plan)
    job, checked = begin_job(target, catalog, plan, rendered.meta, journal, resume)
    if on_start is not None:
        on_start(job)
    skipped = set(skip_rows)
    unused = [checked]  # the runner's first connection

    def open_connection() -> Connection:
        return unused.pop() if unused else target.open_connection()

    runner = plan_runner(target, catalog, plan, rendered, journal.path, job.id, settings,
                         on_results=on_results, open_connection=open_connection)
    status = "failed"
    try:
        summary = runner.run(w for w in plan.rows() if w.row not in skipped)
        status = final_status(journal, job.id)
        return job, summary
    except PsbridgeError as exc:
        status = "interrupted" if exc.exit_code == 130 else "failed"
        raise
    finally:
        for connection in unused:
            connection.close()
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
