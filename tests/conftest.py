"""Every test runs with its own config, data and templates folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PSBRIDGE_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("PSBRIDGE_DATA", str(home / "data"))
    monkeypatch.setenv("PSBRIDGE_TEMPLATES", str(home / "templates"))
    for var in ("PSBRIDGE_PROFILE", "PSBRIDGE_ENDPOINT", "PSBRIDGE_USERNAME",
                "PSBRIDGE_PASSWORD", "PSBRIDGE_AUTH"):
        monkeypatch.delenv(var, raising=False)
    return home
