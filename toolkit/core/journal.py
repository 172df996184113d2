"""The job store: every job and every row's outcome, committed as it arrives.

SQLite in WAL mode under the data folder (``jobs.sqlite3``), or the shared PostgreSQL
store of ``[store] url`` (:mod:`toolkit.core.database`). A row is marked ``sent``
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
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.core import migrations
from toolkit.core.database import Database, configured_location, shown
from toolkit.core.errors import InputError
from toolkit.core.processes import process_alive

# Row states: the final outcomes a template reports, plus the runner's own bookkeeping.
OUTCOMES = ("changed", "unchanged", "failed", "skipped")
PENDING = "pending"  # known, not sent yet
SENT = "sent"  # in flight: no outcome came back (yet)
WAITING = "waiting"  # done for now, must be finished later (e.g. "pending mailbox")

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
    agent: str = ""  # who started it: the profile's agent name, else the OS user


@dataclass(frozen=True)
class RowOutcome:
    row: int
    status: str
    key: str = ""
    error_id: str | None = None
    message: str | None = None
    duration: float | None = None


class Journal:
    """One connection to the job store. Not shared between threads.

    ``path`` is the SQLite file or the PostgreSQL URL (default: the configured store).
    """

    def __init__(self, path: Path | str | None = None):
        self.path: Path | str = path or configured_location()
        self._db = Database(self.path)
        try:
            migrations.check(self._db)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        with self._db.transaction() as db:
            yield db

    # jobs -----------------------------------------------------------------------------

    def start_job(self, *, task: str, profile: str, tenant: str | None = None,
                  input_path: str | None = None, input_sha256: str | None = None,
                  options: Mapping[str, Any] | None = None, agent: str = "") -> Job:
        job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        with self._transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, task, profile, tenant, input_path, input_sha256, "
                "options, started, status, agent, pid, host) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (job_id, task, profile, tenant, input_path, input_sha256,
                 json.dumps(dict(options or {}), default=str), time.time(), agent,
                 os.getpid(), socket.gethostname()),
            )
        return self.job(job_id)

    def job(self, job_id: str) -> Job:
        found = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if found is None:
            matches = self._db.execute(
                "SELECT * FROM jobs WHERE id LIKE ? ORDER BY started DESC", (f"%{job_id}%",)
            ).fetchall()
            if len(matches) != 1:
                raise InputError(f"no job {job_id!r} in {shown(self.path)}",
                                 hint="'psbridge jobs list' shows the jobs there are.")
            found = matches[0]
        return _job(found)

    def jobs(self, limit: int = 50, *, agent: str | None = None) -> list[Job]:
        """The newest jobs; only those ``agent`` started when given."""
        where, params = ("WHERE agent = ? ", (agent,)) if agent is not None else ("", ())
        rows = self._db.execute(
            f"SELECT * FROM jobs {where}ORDER BY started DESC LIMIT ?",
            (*params, limit)).fetchall()
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

    def claim(self, job_id: str, rows: Iterable[int]) -> set[int]:
        """Mark the rows that are still pending as sent, atomically; returns those rows.

        Two workers handed the same chunk (a redelivered task) claim disjoint rows, so no
        row is sent twice: rows already sent or done are left to the journal's states.
        """
        wanted = list(rows)
        claimed: set[int] = set()
        with self._transaction() as db:
            for start in range(0, len(wanted), 500):
                part = wanted[start:start + 500]
                marks = ",".join("?" for _ in part)
                found = db.execute(
                    f"UPDATE rows SET status = ?, updated = ? WHERE job_id = ? AND status = ? "
                    f"AND row IN ({marks}) RETURNING row",
                    (SENT, time.time(), job_id, PENDING, *part)).fetchall()
                claimed.update(int(r[0]) for r in found)
        return claimed

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

    def outcomes(self, job_id: str, rows: Iterable[int] | None = None) -> list[RowOutcome]:
        """The states of a job's rows (only of ``rows``, when given), in row order."""
        select = ("SELECT row, status, key, error_id, message, duration FROM rows "
                  "WHERE job_id = ?")
        if rows is None:
            parts = [self._db.execute(f"{select} ORDER BY row", (job_id,)).fetchall()]
        else:
            wanted = sorted(rows)
            parts = [self._db.execute(
                f"{select} AND row IN ({','.join('?' for _ in part)}) ORDER BY row",
                (job_id, *part)).fetchall()
                for part in (wanted[i:i + 500] for i in range(0, len(wanted), 500))]
        return [RowOutcome(r["row"], r["status"], r["key"], r["error_id"], r["message"],
                           r["duration"]) for found in parts for r in found]

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


def _job(row: Any) -> Job:
    status = row["status"]
    if (status == "running" and row["pid"] is not None
            and row["host"] == socket.gethostname() and not process_alive(row["pid"])):
        status = "interrupted"  # its process is gone (kill -9, a crash, a reboot)
    return Job(
        id=row["id"], task=row["task"], profile=row["profile"], tenant=row["tenant"],
        input_path=row["input_path"], input_sha256=row["input_sha256"],
        options=json.loads(row["options"]), started=row["started"], ended=row["ended"],
        status=status, agent=row["agent"],
    )
