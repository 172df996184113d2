"""The job store: every job and every row's outcome, committed as it arrives.

SQLite in WAL mode under the data folder (``jobs.sqlite3``). A row is marked ``sent``
before its chunk leaves for the management host and gets its outcome when the result
comes back, so after a crash (even ``kill -9`` while a chunk is in flight) a resume knows
exactly which rows are done, which were never sent, and which are *unknown* (sent, no
answer): a task with a planner re-reads the tenant for those, a generic template reports
them and re-runs them only when asked.

Secrets never reach this file: callers store rows through :meth:`Journal.record_rows`,
which drops the columns the template declares secret.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.core import paths
from toolkit.core.errors import InputError
from toolkit.core.processes import process_alive

# Row states: the final outcomes a template reports, plus the runner's own bookkeeping.
OUTCOMES = ("changed", "unchanged", "failed", "skipped")
PENDING = "pending"  # known, not sent yet
SENT = "sent"  # in flight: no outcome came back (yet)
WAITING = "waiting"  # done for now, must be finished later (e.g. "pending mailbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    profile TEXT NOT NULL,
    tenant TEXT,
    input_path TEXT,
    input_sha256 TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    started REAL NOT NULL,
    ended REAL,
    status TEXT NOT NULL,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS rows (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    row INTEGER NOT NULL,
    key TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    error_id TEXT,
    message TEXT,
    duration REAL,
    data TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (job_id, row)
);
CREATE INDEX IF NOT EXISTS rows_by_status ON rows(job_id, status);
"""


@dataclass(frozen=True)
class Job:
    id: str
    task: str
    profile: str
    tenant: str | None
    input_path: str | None
    input_sha256: str | None
    options: Mapping[str, Any]
    started: float
    ended: float | None
    status: str  # running | completed | partial | failed | interrupted


@dataclass(frozen=True)
class RowOutcome:
    row: int
    status: str
    key: str = ""
    error_id: str | None = None
    message: str | None = None
    duration: float | None = None


def default_path() -> Path:
    return paths.data_dir() / "jobs.sqlite3"


class Journal:
    """One connection to the job store. Not shared between threads."""

    def __init__(self, path: Path | None = None):
        self.path = path or default_path()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(jobs)")}
        if "pid" not in columns:  # a store from before jobs recorded their process
            self._db.execute("ALTER TABLE jobs ADD COLUMN pid INTEGER")
        self.path.chmod(0o600)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # jobs -----------------------------------------------------------------------------

    def start_job(self, *, task: str, profile: str, tenant: str | None = None,
                  input_path: str | None = None, input_sha256: str | None = None,
                  options: Mapping[str, Any] | None = None) -> Job:
        job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        with self._transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, task, profile, tenant, input_path, input_sha256, "
                "options, started, status, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (job_id, task, profile, tenant, input_path, input_sha256,
                 json.dumps(dict(options or {}), default=str), time.time(), os.getpid()),
            )
        return self.job(job_id)

    def job(self, job_id: str) -> Job:
        found = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if found is None:
            matches = self._db.execute(
                "SELECT * FROM jobs WHERE id LIKE ? ORDER BY started DESC", (f"%{job_id}%",)
            ).fetchall()
            if len(matches) != 1:
                raise InputError(f"no job {job_id!r} in {self.path}",
                                 hint="'psbridge jobs list' shows the jobs there are.")
            found = matches[0]
        return _job(found)

    def jobs(self, limit: int = 50) -> list[Job]:
        rows = self._db.execute(
            "SELECT * FROM jobs ORDER BY started DESC LIMIT ?", (limit,)).fetchall()
        return [_job(r) for r in rows]

    def finish_job(self, job_id: str, status: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE jobs SET status = ?, ended = ? WHERE id = ?",
                       (status, time.time(), job_id))

    def reopen_job(self, job_id: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE jobs SET status = 'running', ended = NULL, pid = ? WHERE id = ?",
                       (os.getpid(), job_id))

    # rows -----------------------------------------------------------------------------

    def record_rows(self, job_id: str, rows: Iterable[tuple[int, str, Mapping[str, Any]]],
                    *, secret_columns: Sequence[str] = ()) -> int:
        """Register rows as pending (row number, key, data without secrets).

        Rows already known keep their state, so registering again on resume is harmless.
        """
        secret = {c.lower() for c in secret_columns}
        now = time.time()
        count = 0
        with self._transaction() as db:
            for row, key, data in rows:
                kept = {k: v for k, v in data.items() if k.lower() not in secret}
                db.execute(
                    "INSERT OR IGNORE INTO rows (job_id, row, key, status, data, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (job_id, row, key, PENDING, json.dumps(kept, default=str), now),
                )
                count += 1
        return count

    def mark(self, job_id: str, rows: Iterable[int], status: str) -> None:
        """Set the runner's bookkeeping state of rows: ``SENT`` before they leave for the
        host (unknown until their outcome arrives), ``PENDING`` when they were refused."""
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "UPDATE rows SET status = ?, updated = ? WHERE job_id = ? AND row = ?",
                [(status, now, job_id, r) for r in rows],
            )

    def record_outcomes(self, job_id: str, outcomes: Iterable[RowOutcome]) -> None:
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "UPDATE rows SET status = ?, error_id = ?, message = ?, duration = ?, "
                "key = CASE WHEN ? = '' THEN key ELSE ? END, updated = ? "
                "WHERE job_id = ? AND row = ?",
                [(o.status, o.error_id, o.message, o.duration, o.key, o.key, now, job_id, o.row)
                 for o in outcomes],
            )

    def outcomes(self, job_id: str) -> list[RowOutcome]:
        found = self._db.execute(
            "SELECT row, status, key, error_id, message, duration FROM rows "
            "WHERE job_id = ? ORDER BY row", (job_id,)).fetchall()
        return [RowOutcome(r["row"], r["status"], r["key"], r["error_id"], r["message"],
                           r["duration"]) for r in found]

    def rows_in(self, job_id: str, statuses: Sequence[str]) -> set[int]:
        marks = ",".join("?" for _ in statuses)
        found = self._db.execute(
            f"SELECT row FROM rows WHERE job_id = ? AND status IN ({marks})",
            (job_id, *statuses)).fetchall()
        return {r["row"] for r in found}

    def counts(self, job_id: str) -> dict[str, int]:
        found = self._db.execute(
            "SELECT status, COUNT(*) AS n FROM rows WHERE job_id = ? GROUP BY status",
            (job_id,)).fetchall()
        return {r["status"]: r["n"] for r in found}


def _job(row: sqlite3.Row) -> Job:
    status = row["status"]
    if status == "running" and row["pid"] is not None and not process_alive(row["pid"]):
        status = "interrupted"  # its process is gone (kill -9, a crash, a reboot)
    return Job(
        id=row["id"], task=row["task"], profile=row["profile"], tenant=row["tenant"],
        input_path=row["input_path"], input_sha256=row["input_sha256"],
        options=json.loads(row["options"]), started=row["started"], ended=row["ended"],
        status=status,
    )
