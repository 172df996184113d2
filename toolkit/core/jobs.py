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
from toolkit.core.connections import Connections
from toolkit.core.errors import (
    ConnectionFailed,
    InputError,
    PsbridgeError,
    TemplateError,
    TransportFault,
)
from toolkit.core.journal import PENDING, SENT, WAITING, Job, Journal
from toolkit.core.pipeline_results import PipelineResult
from toolkit.core.retry import TransientFailure, classify, retrying
from toolkit.core.runner import (
    RowResult,
    RowStep,
    Runner,
    RunnerSettings,
    RunSummary,
    WorkRow,
)
from toolkit.core.session import Connection, Step
from toolkit.core.target import Target
from toolkit.core.template_meta import TemplateMeta
from toolkit.core.templates import RenderedScript, TemplateCatalog


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
    # Row templates a row goes on to after ``template`` (its result says Continue = $true),
    # each on connections of its own: one service per runspace.
    then: tuple[str, ...] = ()


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


def rendered_row_steps(target: Target, catalog: TemplateCatalog, plan: JobPlan
                       ) -> list[RenderedScript]:
    """The plan's template and the steps its rows go on to (``then``), each rendered and
    checked: the profile's role, and that it takes rows."""
    steps = []
    for name in (plan.template, *plan.then):
        rendered = catalog.render(name, plan.context)
        check_role(rendered.meta, target)
        if rendered.meta.row_param is None:
            raise TemplateError(f"template {rendered.meta.name} takes no rows",
                                hint="Run it without --csv.")
        steps.append(rendered)
    return steps


def begin_job(target: Target, catalog: TemplateCatalog, plan: JobPlan,
              metas: Sequence[TemplateMeta], journal: Journal, resume: Job | None
              ) -> tuple[Job, list[Connection]]:
    """Connect and check the tenant reached, then record the job (or reopen the one being
    resumed). A profile that cannot sign in, or whose connection lands in another tenant,
    changes nothing. Connects one connection per template of ``metas`` (the job's steps:
    one service per runspace) and returns the job and these checked connections (the
    caller's to use, e.g. as the runner's first, or to close)."""
    checked: list[Connection] = []
    try:
        for meta in metas:
            checked.append(_connected(target, catalog, meta, target.open_connection()))
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
        for connection in checked:
            connection.close()
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
    except BaseException:  # a verdict: the wrong tenant, a refused sign-in, Ctrl-C
        connection.close()
        raise
    return connection


def plan_runner(target: Target, catalog: TemplateCatalog, plan: JobPlan,
                rendered: Sequence[RenderedScript], journal_path: Path | str, job_id: str,
                settings: RunnerSettings, *,
                on_results: Callable[[list[RowResult]], None] | None = None,
                limit: AdaptiveLimit | None = None,
                open_connection: Sequence[Callable[[], Connection]] = ()) -> Runner:
    """The runner that sends a plan's rows to the target through the rendered templates
    (the plan's, then its ``then`` steps), each step on connections of its own, opened by
    its ``open_connection`` (default: the target's). A worker passes the ``limit`` it
    shares with the other workers."""
    opens = list(open_connection) or [target.open_connection] * len(rendered)
    first, *then = [RowStep(opener, _step_pipeline(target, catalog, plan, step, index > 0))
                    for index, (step, opener) in enumerate(zip(rendered, opens, strict=True))]
    return Runner(
        open_connection=first.open_connection,
        make_steps=first.make_steps,
        then=then,
        journal_path=journal_path,
        job_id=job_id,
        settings=settings,
        secret_columns=sorted({c for step in rendered for c in step.meta.secret_columns}),
        on_results=on_results,
        limit=limit,
        confirm=(None if plan.confirm is None
                 else functools.partial(plan.confirm, target, catalog)),
    )


def _step_pipeline(target: Target, catalog: TemplateCatalog, plan: JobPlan,
                   rendered: RenderedScript, later: bool
                   ) -> Callable[[list[dict[str, Any]], Connection], list[Step]]:
    """How one step of a plan makes its pipeline for a chunk's rows. A ``later`` step (one
    the rows go on to) gets only the parameters and row columns it declares: the Exchange
    step of an activation never sees the Graph step's passwords."""
    meta = rendered.meta
    row_param = meta.row_param
    assert row_param is not None  # checked by rendered_row_steps
    params = {k: v for k, v in plan.params.items() if k in meta.params} if later \
        else plan.params
    columns = {*meta.row_columns, "_row"}

    def make_steps(rows: list[dict[str, Any]], connection: Connection) -> list[Step]:
        sent = [{k: v for k, v in r.items() if k in columns} for r in rows] if later else rows
        return pipeline_steps(target, catalog, meta, rendered.script,
                              {**params, row_param.name: sent}, connection)

    return make_steps


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
    steps = rendered_row_steps(target, catalog, plan)
    skipped = set(skip_rows)
    # Each step's connections: those the job will use start opening and connecting now,
    # together with the one begin_job checks the tenant on, not each at its worker's first
    # chunk. Each is checked like that one (Target.connect); one that fails is closed.
    chunks = -(-max(plan.total - len(skipped), 0) // settings.chunk_size)
    pools = [Connections(target.open_connection) for _ in steps]
    try:
        for pool, step in zip(pools, steps, strict=True):
            pool.warm_up(min(settings.concurrency, chunks) - 1, functools.partial(
                target.connect, services=step.meta.services, catalog=catalog))
        job, checked = begin_job(target, catalog, plan, [s.meta for s in steps], journal,
                                 resume)
        for pool, connection in zip(pools, checked, strict=True):
            pool.add(connection)
        if on_start is not None:
            on_start(job)
        status = "failed"
        try:
            runner = plan_runner(target, catalog, plan, steps, journal.path, job.id, settings,
                                 on_results=on_results, open_connection=[p.take for p in pools])
            summary = runner.run(w for w in plan.rows() if w.row not in skipped)
            status = final_status(journal, job.id)
            return job, summary
        except PsbridgeError as exc:
            status = "interrupted" if exc.exit_code == 130 else "failed"
            raise
        finally:
            journal.finish_job(job.id, status)
    finally:
        for pool in pools:  # the connections opened ahead and never used
            pool.close_spares()


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
