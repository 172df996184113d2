"""How the CLI follows a distributed job's chunk tasks (no broker needed: tasks stand in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.core.journal import Journal, RowOutcome
from toolkit.core.runner import RowResult, WorkRow
from toolkit.distributed import submit


class Task:
    """A chunk task's result as Celery hands it back: it ends at poll ``ends_at``."""

    asked = 0
    poll = 0  # how many times the follower slept between polls

    def __init__(self, number: int, ends_at: int):
        self.id = f"task-{number}"
        self.ends_at = ends_at
        self.result = {"counts": {}, "fields": {}}

    def ready(self) -> bool:
        Task.asked += 1  # one read of the result backend
        return Task.poll >= self.ends_at

    def successful(self) -> bool:
        return True

    def failed(self) -> bool:
        return False


def test_a_large_job_is_followed_without_asking_every_task_at_every_poll(
        tmp_path: Path, monkeypatch: Any) -> None:
    """3,000 chunk tasks of 2 rows, 100 ending at each poll (30 polls): every row is
    reported once, and the result backend is read about twice per task, not at every poll
    for every task still running (some 45,000 reads)."""

    def sleep(seconds: float) -> None:
        Task.poll += 1

    monkeypatch.setattr(submit.time, "sleep", sleep)
    tasks = 3000
    with Journal(tmp_path / "jobs.db") as journal:
        job = journal.start_job(task="custom/t", profile="lab")
        rows = [(row, f"m{row}", {}) for row in range(1, 2 * tasks + 1)]
        journal.record_rows(job.id, rows)
        journal.record_outcomes(job.id, [RowOutcome(row, "changed", key)
                                         for row, key, _ in rows])
        sent = submit.Sent()
        for number in range(tasks):
            chunk = [WorkRow(row, key, data) for row, key, data in rows[2 * number:
                                                                         2 * number + 2]]
            sent.add(Task(number, ends_at=number // 100), chunk)
        reported: list[RowResult] = []
        Task.asked = Task.poll = 0
        summary = submit._follow(journal, job, sent, set(), reported.extend, 0.0)
    assert sorted(r.row for r in reported) == list(range(1, 2 * tasks + 1))
    assert summary.counts == {"changed": 2 * tasks}
    assert Task.asked <= 2 * tasks, f"{Task.asked} reads for {tasks} tasks"
