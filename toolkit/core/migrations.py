"""Versioned schema of the job store, for SQLite and PostgreSQL.

Each migration is applied once, in order, and recorded in ``schema_migrations``. A SQLite
store (one user, one machine) applies what it lacks when opened; a PostgreSQL store is
shared, so :func:`check` refuses one that is behind (``psbridge store migrate`` brings it
up to date, under an advisory lock so two agents migrating at once do not collide) or ahead
(a newer psbridge wrote it).

Version 1 is the schema SQLite stores had before versions existed (``IF NOT EXISTS``
everywhere, so an old store takes it as it is); version 2 records who started each job;
version 3 the process and machine running it (``jobs list`` shows a job whose process is
gone as interrupted) and the members of group trustees in permission snapshots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from toolkit.core.database import Database, shown
from toolkit.core.errors import ConfigError

_MIGRATION_LOCK = 0x7073_6272  # "psbr": pg_advisory_xact_lock key for migrate


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    sqlite: str
    postgresql: str


_JOBS = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    profile TEXT NOT NULL,
    tenant TEXT,
    input_path TEXT,
    input_sha256 TEXT,
    options TEXT NOT NULL DEFAULT '{{}}',
    started {real} NOT NULL,
    ended {real},
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    row INTEGER NOT NULL,
    key TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    error_id TEXT,
    message TEXT,
    duration {real},
    data TEXT,
    updated {real} NOT NULL,
    PRIMARY KEY (job_id, row)
);
CREATE INDEX IF NOT EXISTS rows_by_status ON rows(job_id, status);
CREATE TABLE IF NOT EXISTS perm_snapshots (
    id {serial},
    tenant TEXT NOT NULL,
    profile TEXT NOT NULL,
    taken {real} NOT NULL,
    scope TEXT NOT NULL,
    noise_kept INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'running',
    mailboxes INTEGER NOT NULL DEFAULT 0,
    noise TEXT NOT NULL DEFAULT '{{}}',
    failures TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS perm_snapshot_read (
    snapshot_id INTEGER NOT NULL REFERENCES perm_snapshots(id) ON DELETE CASCADE,
    mailbox TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, mailbox)
);
CREATE TABLE IF NOT EXISTS perm_snapshot_rows (
    snapshot_id INTEGER NOT NULL REFERENCES perm_snapshots(id) ON DELETE CASCADE,
    mailbox TEXT NOT NULL,
    trustee TEXT NOT NULL,
    access_right TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS perm_rows_by_snapshot ON perm_snapshot_rows(snapshot_id);
CREATE INDEX IF NOT EXISTS perm_snapshots_by_tenant ON perm_snapshots(tenant, taken);
"""

_GROUPS = """
CREATE TABLE IF NOT EXISTS perm_snapshot_groups (
    snapshot_id INTEGER NOT NULL REFERENCES perm_snapshots(id) ON DELETE CASCADE,
    trustee TEXT NOT NULL,
    member TEXT
);
CREATE INDEX IF NOT EXISTS perm_groups_by_snapshot ON perm_snapshot_groups(snapshot_id);
"""

_BY_TENANT_ID = ("CREATE INDEX IF NOT EXISTS perm_snapshots_by_tenant_id "
                 "ON perm_snapshots(tenant_id, taken);")

MIGRATIONS = (
    Migration(1, "jobs, rows and permission snapshots",
              _JOBS.format(real="REAL", serial="INTEGER PRIMARY KEY AUTOINCREMENT"),
              _JOBS.format(real="DOUBLE PRECISION", serial="SERIAL PRIMARY KEY")),
    Migration(2, "who started each job (agent)",
              "ALTER TABLE jobs ADD COLUMN agent TEXT NOT NULL DEFAULT '';\n"
              "CREATE INDEX IF NOT EXISTS jobs_by_agent ON jobs(agent, started);",
              "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS agent TEXT NOT NULL DEFAULT '';\n"
              "CREATE INDEX IF NOT EXISTS jobs_by_agent ON jobs(agent, started);"),
    Migration(3, "the process and machine running each job; members of group trustees",
              "ALTER TABLE jobs ADD COLUMN pid INTEGER;\n"
              "ALTER TABLE jobs ADD COLUMN host TEXT;\n" + _GROUPS,
              "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS pid INTEGER;\n"
              "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS host TEXT;\n" + _GROUPS),
    # Snapshots are found by the tenant's id, whichever of its names --tenant gave; rows
    # stored before are given theirs when first looked up (SnapshotStore.tag_tenants).
    Migration(4, "permission snapshots keyed by the resolved tenant id",
              "ALTER TABLE perm_snapshots ADD COLUMN tenant_id TEXT;\n" + _BY_TENANT_ID,
              "ALTER TABLE perm_snapshots ADD COLUMN IF NOT EXISTS tenant_id TEXT;\n"
              + _BY_TENANT_ID),
)
LATEST = MIGRATIONS[-1].version

_VERSIONS = ("CREATE TABLE IF NOT EXISTS schema_migrations "
             "(version INTEGER PRIMARY KEY, summary TEXT NOT NULL, applied {real} NOT NULL)")


def current_version(db: Database) -> int:
    """The store's schema version; 0 for a store that has never been migrated."""
    exists = ("SELECT to_regclass('schema_migrations') IS NOT NULL"
              if db.dialect == "postgresql" else
              "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'")
    if not db.execute(exists).fetchone()[0]:
        return 0
    found = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(found[0] or 0)


def migrate(db: Database) -> list[Migration]:
    """Apply every migration the store lacks, each in its own transaction; returns them."""
    applied: list[Migration] = []
    for migration in MIGRATIONS:
        with db.transaction():
            if db.dialect == "postgresql":
                db.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            real = "DOUBLE PRECISION" if db.dialect == "postgresql" else "REAL"
            db.execute(_VERSIONS.format(real=real))
            if migration.version <= current_version(db):
                continue
            db.script(migration.postgresql if db.dialect == "postgresql" else migration.sqlite)
            db.execute("INSERT INTO schema_migrations (version, summary, applied) "
                       "VALUES (?, ?, ?)", (migration.version, migration.summary, time.time()))
            applied.append(migration)
    return applied


def check(db: Database) -> None:
    """Bring a SQLite store up to date; refuse a PostgreSQL store that is not at LATEST."""
    if db.dialect == "sqlite":
        if current_version(db) < LATEST:
            migrate(db)
        return
    version = current_version(db)
    if version < LATEST:
        raise ConfigError(
            f"the job store {shown(db.location)} has schema version {version}; this psbridge "
            f"needs version {LATEST}",
            hint="Run 'psbridge store migrate' once (it is safe while others use the store).",
        )
    if version > LATEST:
        raise ConfigError(
            f"the job store {shown(db.location)} has schema version {version}, newer than this "
            f"psbridge knows ({LATEST})",
            hint="Upgrade psbridge on this machine to the version the other agents run.",
        )
