"""Every test runs with its own config, data and templates folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.sandbox.shared import stop_shared


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
