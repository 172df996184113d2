"""Generic tasks: any row-driven template fed from a CSV whose columns its metadata lists.

A generic template has no planner: psbridge cannot tell from the tenant whether a row that
was in flight at a crash was applied, so such rows are reported as unknown and re-run only
when asked (``jobs resume --rerun-unknown``). Templates should therefore be idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from toolkit.core.jobs import JobPlan
from toolkit.core.runner import WorkRow
from toolkit.core.templates import TemplateMeta
from toolkit.io.csvfile import Column, CsvFile

KIND = "task"


def plan_from_csv(meta: TemplateMeta, csv_path: Path, params: Mapping[str, Any],
                  context: Mapping[str, Any] | None = None) -> JobPlan:
    """Validate the whole file (every problem listed, nothing run) and plan the job."""
    source = CsvFile(csv_path, [Column(name, nullable=True) for name in meta.row_columns])
    total = source.validate()
    key_column = meta.row_columns[0]

    def rows() -> Iterator[WorkRow]:
        for row in source.rows():
            yield WorkRow(row.line, str(row.values.get(key_column) or ""), row.values)

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
