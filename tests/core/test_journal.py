"""The job store survives a crash at any moment and never holds a secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.core.errors import InputError
from toolkit.core.journal import PENDING, SENT, Journal, RowOutcome


def test_job_life_cycle(store_location: Path | str) -> None:
    with Journal(store_location) as journal:
        job = journal.start_job(task="exchange/x", profile="sandbox", input_path="in.csv",
                                input_sha256="ab" * 32, options={"concurrency": 3})
        assert journal.record_rows(job.id, [(2, "a", {"Mailbox": "a"}),
                                            (3, "b", {"Mailbox": "b"})]) == 2
        journal.mark(job.id, [2, 3], SENT)
        journal.record_outcomes(job.id, [RowOutcome(2, "changed", duration=0.1)])
        assert journal.counts(job.id) == {"changed": 1, SENT: 1}
        assert journal.rows_in(job.id, [SENT]) == {3}
        journal.finish_job(job.id, "interrupted")
        again = journal.job(job.id[-6:])  # a unique suffix is enough
        assert again.status == "interrupted" and again.options == {"concurrency": 3}


def test_registering_again_keeps_outcomes(store_location: Path | str) -> None:
    with Journal(store_location) as journal:
        job = journal.start_job(task="t", profile="p")
        journal.record_rows(job.id, [(2, "a", {}), (3, "b", {})])
        journal.record_outcomes(job.id, [RowOutcome(2, "failed", error_id="X", message="no")])
        journal.record_rows(job.id, [(2, "a", {}), (3, "b", {}), (4, "c", {})])
        assert journal.counts(job.id) == {"failed": 1, PENDING: 2}


def test_secret_columns_are_never_stored(store_location: Path | str, tmp_path: Path) -> None:
    with Journal(store_location) as journal:
        job = journal.start_job(task="t", profile="p")
        journal.record_rows(job.id, [(2, "u@x.com", {"EmailAddress": "u@x.com",
                                                      "Password": "Hunter2!secret"})],
                            secret_columns=["password"])
        stored = [tuple(r) for table in ("jobs", "rows")
                  for r in journal._db.execute(f"SELECT * FROM {table}").fetchall()]
    assert "u@x.com" in repr(stored) and "Hunter2!secret" not in repr(stored)
    for file in tmp_path.iterdir():
        assert b"Hunter2!secret" not in file.read_bytes()
    if isinstance(store_location, Path):
        assert (store_location.stat().st_mode & 0o777) == 0o600


def test_jobs_record_who_started_them_and_list_by_agent(store_location: Path | str) -> None:
    with Journal(store_location) as journal:
        mine = journal.start_job(task="t", profile="p", agent="alice")
        journal.start_job(task="t", profile="p", agent="bob")
        assert [j.id for j in journal.jobs(agent="alice")] == [mine.id]
        assert {j.agent for j in journal.jobs()} == {"alice", "bob"}


def test_unknown_job_is_a_clear_error(store_location: Path | str) -> None:
    with Journal(store_location) as journal, pytest.raises(InputError) as info:
        journal.job("nope")
    assert "jobs list" in (info.value.hint or "")


CRASH = """
import os, sys
from pathlib import Path
from toolkit.core.journal import Journal, RowOutcome
journal = Journal(Path(sys.argv[1]))
job = journal.start_job(task="t", profile="p")
journal.record_rows(job.id, [(n, str(n), {}) for n in range(2, 12)])
journal.mark(job.id, range(2, 7), "sent")
journal.record_outcomes(job.id, [RowOutcome(n, "changed") for n in range(2, 5)])
print(job.id, flush=True)
os.kill(os.getpid(), 9)
"""


def test_kill_9_loses_nothing_that_was_recorded(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    result = subprocess.run([sys.executable, "-c", CRASH, str(path)], capture_output=True,
                            text=True)
    assert result.returncode == -9
    job_id = result.stdout.strip()
    with Journal(path) as journal:
        assert journal.job(job_id).status == "interrupted"  # its process is gone
        assert journal.rows_in(job_id, ["changed"]) == {2, 3, 4}
        assert journal.rows_in(job_id, [SENT]) == {5, 6}
        assert journal.rows_in(job_id, [PENDING]) == set(range(7, 12))


def test_a_running_job_whose_process_is_gone_shows_as_interrupted(tmp_path: Path) -> None:
    script = ("import sys\nfrom pathlib import Path\nfrom toolkit.core.journal import Journal\n"
              "with Journal(Path(sys.argv[1])) as j:\n"
              "    print(j.start_job(task='t', profile='p').id)\n")
    gone = subprocess.run([sys.executable, "-c", script, str(tmp_path / "jobs.sqlite3")],
                          capture_output=True, text=True, check=True).stdout.strip()
    with Journal(tmp_path / "jobs.sqlite3") as journal:
        mine = journal.start_job(task="t", profile="p").id
        assert journal.job(gone).status == "interrupted"  # killed before it could say so
        assert journal.job(mine).status == "running"
        journal.reopen_job(gone)  # a resume in this process owns it now
        assert journal.job(gone).status == "running"


def test_a_row_is_claimed_once_even_by_two_workers(store_location: Path | str) -> None:
    with Journal(store_location) as first, Journal(store_location) as second:
        job = first.start_job(task="t", profile="p")
        first.record_rows(job.id, [(r, str(r), {}) for r in range(2, 12)])
        first.record_outcomes(job.id, [RowOutcome(2, "changed")])
        assert first.claim(job.id, range(2, 8)) == {3, 4, 5, 6, 7}
        assert second.claim(job.id, range(2, 12)) == {8, 9, 10, 11}
        assert second.claim(job.id, range(2, 12)) == set()


def test_a_store_from_before_schema_versions_is_brought_up_to_date(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:  # the schema SQLite stores had before versions
        db.executescript("""
            CREATE TABLE jobs (id TEXT PRIMARY KEY, task TEXT NOT NULL, profile TEXT NOT NULL,
                tenant TEXT, input_path TEXT, input_sha256 TEXT,
                options TEXT NOT NULL DEFAULT '{}', started REAL NOT NULL, ended REAL,
                status TEXT NOT NULL);
            CREATE TABLE rows (job_id TEXT NOT NULL REFERENCES jobs(id), row INTEGER NOT NULL,
                key TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, error_id TEXT,
                message TEXT, duration REAL, data TEXT, updated REAL NOT NULL,
                PRIMARY KEY (job_id, row));
            INSERT INTO jobs (id, task, profile, started, status)
                VALUES ('20260101-000000-abcdef', 'old', 'lab', 1.0, 'completed');
        """)
    with Journal(path) as journal:
        old = journal.job("abcdef")
        assert (old.task, old.agent) == ("old", "")
        journal.start_job(task="new", profile="lab", agent="alice")
        assert [j.agent for j in journal.jobs()] == ["alice", ""]
