"""End-to-end fixtures; the helpers live in e2e_cli.py (import them from there).

Nothing is mocked: the CLI talks to the sandbox through pypsrp over HTTPS, signs in with
msal against the sandbox's identity platform, and the sandbox runs the rendered scripts in
its PowerShell engine against the emulated tenant.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_cli import (  # noqa: F401 - re-exported for tests that import from conftest
    TEMPLATES,
    Cli,
    ServedSandbox,
    bulk_seed,
    rows_csv,
    serve_sandbox,
)


@pytest.fixture
def cli(isolated_home: Path) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSBRIDGE_")}
    env.update({
        "PSBRIDGE_CONFIG": str(isolated_home / "config.toml"),
        "PSBRIDGE_DATA": str(isolated_home / "data"),
        "PSBRIDGE_TEMPLATES": str(TEMPLATES),
        "COLUMNS": "200",
    })
    return Cli(env)


@pytest.fixture
def serve(cli: Cli, isolated_home: Path) -> Iterator[Any]:
    """Start ``psbridge sandbox serve`` with extra options; stopped after the test."""
    started: list[ServedSandbox] = []

    def start(*extra: str, seed: str = "demo") -> ServedSandbox:
        sandbox = serve_sandbox(cli, isolated_home, *extra, seed=seed)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.process.terminate()
        sandbox.process.wait(timeout=30)


