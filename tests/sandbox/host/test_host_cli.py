"""``psbridge sandbox serve`` through the real CLI entry point."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from echo_backend import EchoBackend
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

import toolkit.cli.sandbox as sandbox_cli
import toolkit.sandbox.plugin as sandbox_plugin
import toolkit.sandbox.server as server
from toolkit.cli.main import main
from toolkit.sandbox.server import RunningSandbox


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, backend: EchoBackend) -> list[RunningSandbox]:
    """Serve the echo backend; instead of waiting for Ctrl-C, run one pipeline and return."""
    started: list[RunningSandbox] = []

    def fake_build_backend(options: server.SandboxOptions) -> EchoBackend:
        backend.accounts[options.username] = (options.password or "", "admin")
        return backend

    def start(options: server.SandboxOptions, **kwargs: Any) -> RunningSandbox:
        running = server.start_sandbox(options, **kwargs)
        started.append(running)
        return running

    def one_pipeline_then_return() -> None:
        running = started[-1]
        wsman = WSMan(running.host, port=running.port, ssl=running.https, auth="ntlm",
                      username=running.username, password=running.password,
                      cert_validation=str(running.ca_cert) if running.ca_cert else True)
        with RunspacePool(wsman) as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Write-Echo").add_argument("served")
            assert ps.invoke() == ["served"]

    monkeypatch.setattr(server, "build_backend", fake_build_backend)
    monkeypatch.setattr(sandbox_plugin, "start_sandbox", start)  # as the CLI reaches it
    monkeypatch.setattr(sandbox_cli, "_wait_for_interrupt", one_pipeline_then_return)
    return started


def test_serve_prints_how_to_connect_and_passes_options_through(
    served: list[RunningSandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sandbox", "serve", "--port", "0", "--latency-ms", "1", "--cmdlet-ms", "5",
                 "--throttle-rate", "0.25", "--random-seed", "4", "--seed", "demo",
                 "--password", "Secr3t!", "--mailbox-delay-s", "0.5",
                 "--migration-speed", "60", "--command-log", "cmds.jsonl"])
    out = capsys.readouterr().out
    assert code == 0
    (running,) = served
    assert f"listening on {running.url}" in out
    assert "sandbox-admin / Secr3t!" in out
    assert "needs --https" in out
    assert out.rstrip().endswith("sandbox stopped")
    options = running.options
    assert (options.cmdlet_ms, options.throttle_rate, options.random_seed, options.seed) == (
        5, 0.25, 4, "demo"
    )
    assert (options.mailbox_delay_s, options.migration_speed) == (0.5, 60.0)
    assert options.command_log == Path("cmds.jsonl")
    assert (options.latency_ms, options.https, options.host) == (1, False, "127.0.0.1")


def test_serve_with_write_profile_runs_https_and_writes_the_profile(
    served: list[RunningSandbox], isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sandbox", "serve", "--port", "0", "--write-profile", "lab"])
    assert code == 0, capsys.readouterr().err
    (running,) = served
    assert running.url.startswith("https://")
    profile = tomllib.loads((isolated_home / "config.toml").read_text())["profiles"]["lab"]
    assert profile["endpoint"] == running.url
    assert profile["username"] == running.username
    assert profile["ca_bundle"] == str(running.ca_cert)
    password_file = Path(profile["password_file"])
    assert password_file.read_text() == running.password
    assert password_file.stat().st_mode & 0o077 == 0


def test_serve_without_the_engine_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "toolkit.sandbox.app", None)
    code = main(["sandbox", "serve", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "toolkit.sandbox.app" in err and "nothing to serve" in err


def test_a_taken_port_is_reported(
    served: list[RunningSandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    with server.start_sandbox(server.SandboxOptions(), backend=EchoBackend({})) as other:
        code = main(["sandbox", "serve", "--port", str(other.port)])
    assert code == 2
    assert "cannot listen" in capsys.readouterr().err
