"""``psbridge store``: where jobs and snapshots are kept, and its schema version."""

from __future__ import annotations

from dataclasses import asdict

import click

from toolkit.cli.context import AppContext
from toolkit.cli.output import emit, outcome


@click.group()
def store() -> None:
    """The job store: the local SQLite file, or the shared PostgreSQL of '[store] url'.

    A shared store is upgraded once, by anyone, with 'psbridge store migrate'; until then
    every command refuses it with that hint, so no agent writes to a schema it does not know.
    """


@store.command()
@click.pass_obj
def migrate(app: AppContext) -> None:
    """Bring the store's schema up to date (safe to run while others use the store)."""
    from toolkit.api.store import migrate_store

    done = migrate_store()
    for migration in done.applied:
        click.echo(f"applied {migration.version}: {migration.summary}", err=app.output != "table")
    outcome(app, f"{done.store}: schema version {done.schema}"
            + ("" if done.applied else " (already up to date)"),
            {"store": done.store, "schema": done.schema,
             "applied": [m.version for m in done.applied]})


@store.command()
@click.pass_obj
def status(app: AppContext) -> None:
    """Which store this machine uses and its schema version."""
    from toolkit.api.store import store_status

    emit(app, [asdict(store_status())], ["store", "kind", "schema", "needed"])
