"""--distributed, psbridge worker and the shared store, with the real services.

The CLI, two workers and the sandbox are separate processes; the store is a PostgreSQL
database of the test's own and the broker a Redis database of its own (tests/services.py:
skipped with the reason when a service is unreachable, failed under CI=true). Exactly-once
is judged by the sandbox's command log, the connection cap by the sandbox itself (it refuses
a 4th concurrent Exchange connection of one account, as Exchange Online does).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e_cli import Cli, ServedSandbox, bulk_seed, rows_csv
from services import postgres_database, redis_broker


@dataclass
class Worker:
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def text(self) -> str:
        return "".join(self.output)


@pytest.fixture
def shared(cli: Cli, isolated_home: Path) -> Iterator[str]:
    """[store] and [queue] in the test's config, on a fresh database and Redis database."""
    with postgres_database() as store, redis_broker() as broker:
        (isolated_home / "config.toml").write_text(
            f'[store]\nurl = "{store}"\n\n[queue]\nbroker = "{broker}"\n'
            "redelivery_seconds = 10\n", encoding="utf-8")
        cli("store", "migrate", check=0)
        yield broker


@pytest.fixture
def workers(cli: Cli) -> Iterator[Any]:
    started: list[Worker] = []

    def start(name: str, concurrency: int = 1) -> Worker:
        process = subprocess.Popen(
            [sys.executable, "-m", "toolkit", "-v", "worker", "--concurrency",
             str(concurrency), "--name", f"{name}@test"],
            env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL)
        worker = Worker(process)

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                worker.output.append(line)
                if " ready." in line:
                    worker.ready.set()

        threading.Thread(target=pump, daemon=True).start()
        while not worker.ready.wait(0.2):
            assert process.poll() is None, worker.text()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.terminate()
            worker.process.wait(timeout=60)


def applied(sandbox: ServedSandbox) -> Counter[str]:
    """How many times each mailbox was changed by a successful Set-Mailbox."""
    return Counter(c["parameters"]["Identity"] for c in sandbox.commands("Set-Mailbox")
                   if c["ok"])


def bulk_job(tmp_path: Path, serve: Any, rows: int, cmdlet_ms: int) -> tuple[ServedSandbox,
                                                                             Path]:
    sandbox = serve("--cmdlet-ms", str(cmdlet_ms),
                    seed=str(bulk_seed(tmp_path / "seed.json", rows)))
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value",
                      [f"bulk{i:04d}@contoso.com,v{i}" for i in range(rows)])
    return sandbox, source


def test_a_distributed_job_runs_on_the_workers_and_reports_like_a_local_one(  # type: ignore[no-untyped-def]
        cli: Cli, serve, workers, shared: str, tmp_path: Path) -> None:
    sandbox, source = bulk_job(tmp_path, serve, 60, cmdlet_ms=1)
    first, second = workers("one"), workers("two")
    result = cli("--profile", "lab", "task", "run", "custom/set-attribute", "--csv",
                 str(source), "--chunk-size", "5", "--distributed", "--results",
                 str(tmp_path / "out.csv"), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "60 changed" in result.stdout
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 61
    changes = applied(sandbox)
    assert len(changes) == 60 and set(changes.values()) == {1}
    (job,) = cli.json("jobs", "list")
    assert job["status"] == "completed"
