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
