"""``ws.migrations``: POP/IMAP migrations into Exchange Online from a CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.api.jobs import run_job
from toolkit.api.results import JobRun

if TYPE_CHECKING:
    from toolkit.api.workspace import Workspace
    from toolkit.tasks.migration.batches import MigrationOptions, MigrationPlan, TenantFacts
    from toolkit.tasks.migration.csv_formats import MigrationInput
    from toolkit.tasks.migration.status import BatchState


@dataclass
class MigrationRequest:
    """A migration CSV planned against the tenant: batches, endpoints and warnings."""

    source: MigrationInput
    options: MigrationOptions
    plan: MigrationPlan
    facts: TenantFacts


class Migrations:
    """``ws.migrations``."""

    def __init__(self, workspace: Workspace):
        self._ws = workspace

    def plan(self, source: Path | str, *, batch: str | None = None,
             options: MigrationOptions | None = None) -> MigrationRequest:
        """Read the CSV (today's format or the legacy one; every problem raised first) and
        plan its batches against the tenant. ``batch``: the batch name (default: from the
        file name). Problems the tenant shows are in ``plan.problems`` (see :meth:`start`)."""
        from toolkit.tasks.migration.batches import MigrationOptions, build_plan, default_batch_name
        from toolkit.tasks.migration.csv_formats import read_migration_csv
        from toolkit.tasks.migration.reads import tenant_facts

        path = Path(source)
        data = read_migration_csv(path)
        chosen = options or MigrationOptions()
        target, catalog = self._ws.target, self._ws.catalog
        with target.open_connection() as connection:
            facts = tenant_facts(target, catalog, connection, [r.email for r in data.rows])
        plan = build_plan(data, chosen, batch or default_batch_name(path), facts)
        return MigrationRequest(data, chosen, plan, facts)

    def start(self, source: Path | str, *, batch: str,
              options: MigrationOptions | None = None) -> JobRun | None:
        """Plan, then create the endpoints and batches (and start them unless
        ``options.auto_start`` is off). None when every batch already exists."""
        request = self.plan(source, batch=batch, options=options)
        self.refuse_problems(request)
        return self.run(request) if request.plan.batches else None

    def refuse_problems(self, request: MigrationRequest) -> None:
        """Raise (exit 2, nothing created) when the plan has problems, each with its line."""
        from toolkit.tasks.migration.batches import raise_problems

        raise_problems(request.plan, request.source.path)

    def run(self, request: MigrationRequest) -> JobRun:
        """Create the planned batches as a job (one row per batch; resumable)."""
        from toolkit.tasks.migration.batches import job_plan

        return run_job(self._ws.target, self._ws.catalog,
                       job_plan(request.source, request.options, request.plan),
                       concurrency=1, chunk_size=1, progress=self._ws.progress)

    def status(self, names: Sequence[str] = ()) -> list[BatchState]:
        """The batches (``names`` and the batches split off from them; every batch with
        none) with every user's state, item counts and errors."""
        from toolkit.tasks.migration.reads import fetch_batches

        target = self._ws.target
        with target.open_connection() as connection:
            return fetch_batches(target, self._ws.catalog, connection, names)
