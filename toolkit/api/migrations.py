"""``ws.migrations``: POP/IMAP migrations into Exchange Online from a CSV."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.api.jobs import run_job
from toolkit.api.migration_results import (
    BatchAction,
    MigrationPreview,
    MigrationReport,
    MigrationWatch,
    ServerCheck,
    SourceServer,
)
from toolkit.api.results import JobRun
from toolkit.core.errors import InputError
from toolkit.tasks.migration.batches import DEFAULT_BATCH_SIZE, MAX_BATCH_USERS, MigrationOptions
from toolkit.tasks.migration.hosts import SECURITY_CHOICES
from toolkit.tasks.migration.status import BatchState, UserState

# What a caller builds, reads or offers as choices: part of the API's vocabulary.
__all__ = ["DEFAULT_BATCH_SIZE", "MAX_BATCH_USERS", "SECURITY_CHOICES", "BatchAction",
           "BatchState", "MigrationOptions", "MigrationPreview", "MigrationReport",
           "MigrationRequest", "MigrationWatch", "Migrations", "ServerCheck", "SourceServer",
           "UserState"]

if TYPE_CHECKING:
    from toolkit.api.workspace import Workspace
    from toolkit.core.jobs import JobPlan
    from toolkit.tasks.migration.batches import MigrationPlan, TenantFacts
    from toolkit.tasks.migration.csv_formats import MigrationInput

ACTION_TEMPLATE = "exchange/migration-batch-action"


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

    # Planning and starting.

    def plan(self, source: Path | str, *, batch: str | None = None,
             options: MigrationOptions | None = None) -> MigrationRequest:
        """Read the CSV (today's format or the legacy one; every problem raised first) and
        plan its batches against the tenant. ``batch``: the batch name (default: from the
        file name). Problems the tenant shows are in ``plan.problems`` (see :meth:`start`)."""
        from toolkit.tasks.migration.batches import build_plan, default_batch_name
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

    def preview(self, request: MigrationRequest) -> MigrationPreview:
        """What :meth:`run` would send: the job's task, the template's script and one row
        per batch, secrets (the CSV data) masked."""
        work = _job(request)
        rendered = self._ws.catalog.render(work.template)
        return MigrationPreview(work.task, work.template, rendered.script,
                                [(row.row, rendered.meta.shown(row.data))
                                 for row in work.rows()])

    def task(self, request: MigrationRequest) -> str:
        """The name :meth:`run` gives its job."""
        return _job(request).task

    def run(self, request: MigrationRequest) -> JobRun:
        """Create the planned batches as a job (one row per batch; resumable)."""
        return run_job(self._ws.target, self._ws.catalog, _job(request), concurrency=1,
                       chunk_size=1, progress=self._ws.progress)

    # Following.

    def status(self, names: Sequence[str] = ()) -> list[BatchState]:
        """The batches (``names`` and the batches split off from them; every batch with
        none) with every user's state, item counts and errors."""
        from toolkit.tasks.migration.reads import fetch_batches

        target = self._ws.target
        with target.open_connection() as connection:
            return fetch_batches(target, self._ws.catalog, connection, names)

    def watch(self, names: Sequence[str] = (), *, interval: float = 15.0,
              timeout: float | None = None,
              on_poll: Callable[[list[BatchState]], None] | None = None) -> MigrationWatch:
        """Poll the batches (as :meth:`status`) every ``interval`` seconds until every
        user has synced or failed, or ``timeout`` seconds have passed; ``on_poll`` sees
        each poll's batches. A poll reads the statistics only of users whose state changed
        (or who failed), on one connection kept open."""
        from toolkit.tasks.migration.reads import fetch_batches

        target, catalog = self._ws.target, self._ws.catalog
        deadline = None if timeout is None else time.monotonic() + timeout
        with target.open_connection() as connection:
            batches = fetch_batches(target, catalog, connection, names, [])
            if on_poll is not None:
                on_poll(batches)
            while not all(b.settled for b in batches):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                time.sleep(interval)
                batches = fetch_batches(target, catalog, connection, names, batches)
                if on_poll is not None:
                    on_poll(batches)
        return MigrationWatch(batches)

    def report(self, name: str, out: Path | str) -> MigrationReport:
        """Write a per-user report of batch ``name`` (and its split-off batches) to
        ``out`` (.csv, .json or .html: the HTML has a summary of states, batches and
        failures). A bad suffix is refused before the tenant is read."""
        from toolkit.io.report_files import Section, Summary, write_rows_report
        from toolkit.io.reports import report_format
        from toolkit.tasks.migration.status import REPORT_COLUMNS, report_summary

        path = Path(out)
        report_format(path)
        batches = self.status([name])
        rows = [u.report_row() for b in batches for u in b.users]
        found = report_summary(batches)
        summary = Summary(
            meta=f"Batches {', '.join(b.name for b in batches) or name} · reported "
                 f"{time.strftime('%Y-%m-%d %H:%M %Z')}",
            cards=found["cards"],
            sections=[Section("Users per state", found["states"], ["state", "users"]),
                      Section("Batches", found["batches"],
                              ["batch", "status", "users", "items moved", "items found"]),
                      Section("Failed users and why", found["failures"],
                              ["email", "status", "reason"], "No user failed.")])
        write_rows_report(path, rows, REPORT_COLUMNS, title=f"IMAP migration {name}",
                          summary=summary)
        return MigrationReport(path, len(rows), len(batches))

    # Acting on batches: each acts on the batch and the batches split off from it.

    def stop(self, name: str) -> list[BatchAction]:
        """Stop the batches (Stop-MigrationBatch); :meth:`resume` starts them again."""
        return self._act(name, "stop")

    def resume(self, name: str, *, credentials: Path | str | None = None
               ) -> list[BatchAction]:
        """Start stopped or not-yet-started batches (Start-MigrationBatch); failed users
        are retried. With ``credentials`` (a CSV in today's or the legacy format: the
        rows of failed users, with corrected passwords), only the batches of those users
        get their rows again (Set-MigrationBatch -CSVData) and are started; a row whose
        user is not a failed user of the batches raises CsvInvalid, nothing sent."""
        if credentials is None:
            return self._act(name, "start")
        return self._retry_with(name, Path(credentials))

    def _retry_with(self, name: str, path: Path) -> list[BatchAction]:
        from toolkit.tasks.migration.credentials import (
            CREDENTIALS_TEMPLATE,
            rows_by_batch,
            template_rows,
        )
        from toolkit.tasks.migration.csv_formats import read_migration_csv
        from toolkit.tasks.migration.reads import fetch_batches, run_template

        source = read_migration_csv(path)  # the file's own problems, before the tenant
        target, catalog = self._ws.target, self._ws.catalog
        with target.open_connection() as connection:
            grouped = rows_by_batch(source, name,
                                    fetch_batches(target, catalog, connection, [name]))
            result = run_template(target, catalog, connection, CREDENTIALS_TEMPLATE,
                                  {"Rows": template_rows(grouped)})
        return _actions(result.output)

    def remove(self, name: str) -> list[BatchAction]:
        """Remove the batches (Remove-MigrationBatch), ending their daily incremental
        sync; mail already migrated stays."""
        return self._act(name, "remove")

    def _act(self, name: str, action: str) -> list[BatchAction]:
        from toolkit.tasks.migration.batches import in_family
        from toolkit.tasks.migration.reads import run_template, tenant_facts

        target, catalog = self._ws.target, self._ws.catalog
        with target.open_connection() as connection:
            facts = tenant_facts(target, catalog, connection, [])
            family = [n for n in facts.batches if in_family(name, n)]
            if not family:
                raise InputError(f"no migration batch named {name}",
                                 hint="'psbridge migrate imap status' lists every batch.")
            result = run_template(target, catalog, connection, ACTION_TEMPLATE,
                                  {"Names": family, "Action": action})
        return _actions(result.output)

    # Checking a source.

    def source_server(self, host: str, port: int = 993,
                      security: str = "ssl") -> SourceServer:
        """The IMAP server to use for ``host`` (a known provider's POP host becomes its
        IMAP host, with ``pop_host`` set); an unknown POP host raises InputError."""
        from toolkit.api.migration_checks import source_server

        return source_server(host, port, security)

    def test_endpoint(self, server: SourceServer | str, *, user: str | None = None,
                      password: str | None = None) -> list[ServerCheck]:
        """Can Exchange Online reach ``server`` (Test-MigrationServerAvailability)? With
        ``user`` and ``password``, also sign in over IMAP (from this machine; at the
        sandbox's listener on the sandbox). Raises PartialFailure at the first check that
        fails; returns the checks that passed."""
        from toolkit.api.migration_checks import check_server

        source = server if isinstance(server, SourceServer) else self.source_server(server)
        return check_server(self._ws.target, self._ws.catalog, source, user, password)


def _actions(output: Sequence[Any]) -> list[BatchAction]:
    """What ``exchange/migration-batch-action`` (or ``-credentials``) said per batch."""
    return [BatchAction(r.get("Batch"), r.get("Ok"), r.get("Status"), r.get("Message"))
            for r in output]


def _job(request: MigrationRequest) -> JobPlan:
    """The job creating ``request``'s batches: one row per batch, the CSV data secret."""
    from toolkit.tasks.migration.batches import job_plan

    return job_plan(request.source, request.options, request.plan)
