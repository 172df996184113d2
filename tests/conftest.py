"""Every test runs with its own config, data and templates folders."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.sandbox.shared import stop_shared

# The suite starts thousands of Python processes (the CLI, sandboxes, workers). Where
# PYTHONDONTWRITEBYTECODE is set, as on this project's CI machines, each of them compiles
# psbridge's modules from source again: let them share bytecode, kept outside the checkout.
# Set here, before pytest-xdist starts its workers, so every process inherits it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("PYTHONPYCACHEPREFIX",
                      str(Path(tempfile.gettempdir()) / f"psbridge-test-pycache-{os.getuid()}"))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PSBRIDGE_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("PSBRIDGE_DATA", str(home / "data"))
    monkeypatch.setenv("PSBRIDGE_TEMPLATES", str(home / "templates"))
    for var in ("PSBRIDGE_PROFILE", "PSBRIDGE_ENDPOINT", "PSBRIDGE_USERNAME",
                "PSBRIDGE_PASSWORD", "PSBRIDGE_AUTH"):
        monkeypatch.delenv(var, raising=False)
    yield home
    stop_shared(home / "data" / "sandbox")  # the embedded sandbox a test's commands started


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """The job store a store test runs on: each test runs once per kind of store."""
    if request.param == "sqlite":
        yield tmp_path / "jobs.sqlite3"
        return
    from services import postgres_database

    from toolkit.core.database import Database
    from toolkit.core.migrations import migrate

    with postgres_database() as url:
        with Database(url) as db:
            migrate(db)
        yield url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deal the slow tests out first, one to each xdist worker in turn.

    Work stealing gives each worker an even, contiguous share of the collection and steals
    from the end of the shares: a slow test placed at the head of a share starts at once,
    instead of being the last thing the run waits for.
    """
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    slow = [item for item in items if item.get_closest_marker("slow")]
    if workers < 2 or not slow:
        return
    rest = [item for item in items if not item.get_closest_marker("slow")]
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for index, item in enumerate(slow):
        shares[index % workers].append(item)
    left = len(items)
    for index, share in enumerate(shares):
        size = left // (workers - index)  # the share work stealing hands this worker
        take = max(0, size - len(share))
        share.extend(rest[:take])
        del rest[:take]
        left -= len(share)
    shares[-1].extend(rest)
    items[:] = [item for share in shares for item in share]
