"""``psbridge store``: where jobs and snapshots are kept, and its schema version."""

from __future__ import annotations

import click

from toolkit.cli.context import AppContext
from toolkit.cli.output import emit


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
    from toolkit.core import migrations
    from toolkit.core.database import Database, configured_location, shown

    location = configured_location()
    with Database(location) as db:
        applied = migrations.migrate(db)
    for migration in applied:
        click.echo(f"applied {migration.version}: {migration.summary}")
    click.echo(f"{shown(location)}: schema version {migrations.LATEST}"
               + ("" if applied else " (already up to date)"))


@store.command()
@click.pass_obj
def status(app: AppContext) -> None:
    """Which store this machine uses and its schema version."""
    from toolkit.core import migrations
    from toolkit.core.database import Database, configured_location, shown

    location = configured_location()
    with Database(location) as db:
        if db.dialect == "sqlite":  # a local store brings itself up to date when opened
            migrations.check(db)
        version = migrations.current_version(db)
    emit(app, [{"store": shown(location), "kind": db.dialect, "schema": version,
                "needed": migrations.LATEST}], ["store", "kind", "schema", "needed"])
