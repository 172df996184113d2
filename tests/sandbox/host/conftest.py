"""Fixtures: the sandbox host serving the echo test backend, and pypsrp clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from echo_backend import EchoBackend
from host_testing import ADMIN, AGENT, StartSandbox, basic_wsman
from pypsrp.wsman import WSMan

from toolkit.sandbox.host.http import IdentityHandler
from toolkit.sandbox.server import RunningSandbox, SandboxOptions, start_sandbox


@pytest.fixture
def backend() -> EchoBackend:
    return EchoBackend(
        {ADMIN[0]: (ADMIN[1], "admin"), AGENT[0]: (AGENT[1], "helpdesk")}
    )


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def start(backend: EchoBackend) -> Iterator[StartSandbox]:
    """Start sandboxes with the given options; all are stopped after the test."""
    started: list[RunningSandbox] = []

    def _start(identity_handler: IdentityHandler | None = None, **options: Any) -> RunningSandbox:
        options.setdefault("username", ADMIN[0])
        options.setdefault("password", ADMIN[1])
        running = start_sandbox(SandboxOptions(**options), backend=backend,
                                identity_handler=identity_handler)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.stop()


@pytest.fixture
def sandbox(start: StartSandbox) -> RunningSandbox:
    return start()


@pytest.fixture
def wsman(sandbox: RunningSandbox) -> Iterator[WSMan]:
    connection = basic_wsman(sandbox)
    yield connection
    connection.close()
