"""Generic tasks: any row-driven template fed from a CSV whose columns its metadata lists.

A generic template has no planner: psbridge cannot tell from the tenant whether a row that
was in flight at a crash was applied, so such rows are reported as unknown and re-run only
when asked (``jobs resume --rerun-unknown``). Templates should therefore be idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from toolkit.core.errors import InputError
from toolkit.core.jobs import JobPlan, Resumption, resume_state
from toolkit.core.journal import Job, Journal
from toolkit.core.runner import WorkRow
from toolkit.core.target import Target
from toolkit.core.template_meta import TemplateMeta
from toolkit.core.templates import TemplateCatalog
from toolkit.io.csvfile import Column, CsvFile

KIND = "generic"  # stored in jobs; tasks/registry.py resumes by it


def plan_from_csv(meta: TemplateMeta, csv_path: Path, params: Mapping[str, Any],
                  context: Mapping[str, Any] | None = None) -> JobPlan:
    """Validate the whole file (every problem listed, nothing run) and plan the job."""
    source = CsvFile(csv_path, [Column(name, nullable=True) for name in meta.row_columns])
    total = source.validate()
    key_column = meta.row_columns[0]

    def rows() -> Iterator[WorkRow]:
        for row in source.rows():
            key = str(row.values.get(key_column) or "")
            yield WorkRow(row.line, key, row.values, {key_column: key})

    secret = {p.name for p in meta.params.values() if p.secret}
    return JobPlan(
        task=f"task {meta.name}",
        template=meta.name,
        rows=rows,
        total=total,
        params=params,
        context=dict(context or {}),
        input_path=str(csv_path.resolve()),
        input_sha256=source.sha256(),
        options={"kind": KIND,
                 "params": {k: v for k, v in params.items() if k not in secret}},
    )


def resume_plan(job: Job, journal: Journal, target: Target, catalog: TemplateCatalog,
                rerun_unknown: bool) -> Resumption:
    """Skip rows with an outcome; rows in flight at the stop stay unknown unless asked."""
    if not job.input_path:
        raise InputError(f"job {job.id} has no input file to resume from")
    meta = catalog.meta(job.options["template"])
    plan = plan_from_csv(meta, Path(job.input_path), job.options.get("params", {}))
    done, unknown = resume_state(journal, job, Path(job.input_path), plan.input_sha256)
    if rerun_unknown:
        return Resumption(plan, done)
    return Resumption(plan, done | unknown, unknown)
