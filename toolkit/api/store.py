"""The job store: which one this machine uses, its schema version, bringing it up to date.

The store is the local SQLite file, or the shared PostgreSQL database of ``[store] url``.
A SQLite store brings itself up to date when opened; a shared one is upgraded once, by
anyone, with :func:`migrate_store`, and refused until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.core import migrations
from toolkit.core.database import Database, configured_location, shown
from toolkit.core.migrations import Migration

# A migration applied by migrate_store is named from here.
__all__ = ["Migration", "StoreMigration", "StoreStatus", "check_store", "migrate_store",
           "store_status"]


@dataclass(frozen=True)
class StoreStatus:
    """The store this machine uses (a URL's password hidden), its kind (``sqlite`` or
    ``postgresql``), its schema version and the version this psbridge needs."""

    store: str
    kind: str
    schema: int
    needed: int


@dataclass(frozen=True)
class StoreMigration:
    """What :func:`migrate_store` did: the migrations it applied (none when the store was
    up to date) and the schema version the store is at now."""

    store: str
    applied: Sequence[Migration]
    schema: int


def store_status() -> StoreStatus:
    """The configured store and its schema version (a SQLite store is brought up to date
    first, as opening it does)."""
    location = configured_location()
    with Database(location) as db:
        if db.dialect == "sqlite":
            migrations.check(db)
        version = migrations.current_version(db)
    return StoreStatus(shown(location), db.dialect, version, migrations.LATEST)


def migrate_store() -> StoreMigration:
    """Bring the configured store's schema up to date; safe while others use the store."""
    location = configured_location()
    with Database(location) as db:
        applied = migrations.migrate(db)
    return StoreMigration(shown(location), applied, migrations.LATEST)


def check_store() -> None:
    """Refuse (:class:`~toolkit.core.errors.ConfigError`) a shared store whose schema is not
    the one this psbridge needs; a SQLite store is brought up to date."""
    with Database(configured_location()) as db:
        migrations.check(db)
