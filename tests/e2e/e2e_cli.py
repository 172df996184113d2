"""End-to-end helpers: the real psbridge CLI, as a subprocess, against the sandbox.

Nothing is mocked: the CLI talks to the sandbox through pypsrp over HTTPS, signs in with
msal against the sandbox's identity platform, and the sandbox runs the rendered scripts in
its PowerShell engine against the emulated tenant.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.sandbox.process import spawn_sandbox

TEMPLATES = Path(__file__).parent / "templates"


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Cli:
    """Runs ``python -m toolkit`` with the test's own config, data and template folders."""

    env: dict[str, str]

    def __call__(self, *args: str, timeout: float = 120, check: int | None = None,
                 extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "toolkit", *args], capture_output=True, text=True,
            timeout=timeout, env={**self.env, **(extra_env or {})}, stdin=subprocess.DEVNULL,
        )
        if check is not None:
            assert result.returncode == check, (
                f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        result = self("--output", "json", *args, check=0)
        return json.loads(result.stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """The CLI in the background, with Ctrl-C (SIGINT) handled as in a terminal even when
        the tests themselves were started with SIGINT ignored (a CI job in the background)."""
        return subprocess.Popen([sys.executable, "-m", "toolkit", *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL, preexec_fn=_default_sigint)


@dataclass
class ServedSandbox:
    process: subprocess.Popen[str]
    profile: str
    command_log: Path
    output: list[str]

    def commands(self, cmdlet: str | None = None) -> list[dict[str, Any]]:
        if not self.command_log.exists():
            return []
        entries = [json.loads(line) for line in self.command_log.read_text().splitlines()
                   if line.strip()]
        return [e for e in entries if cmdlet is None or e["cmdlet"] == cmdlet]


def serve_sandbox(cli: Cli, home: Path, *extra: str, profile: str = "lab",
                  seed: str = "demo") -> ServedSandbox:
    """``psbridge sandbox serve`` in the background, writing profile ``profile``."""
    log = home / "commands.jsonl"
    sandbox = spawn_sandbox(["--port", "0", "--https", "--seed", seed, "--command-log",
                             str(log), "--write-profile", profile, *extra], cli.env)
    return ServedSandbox(sandbox.process, profile, log, sandbox.output)


@dataclass
class DeviceCodeSignIn:
    """A CLI run waiting for its device code to be approved; ``output`` keeps growing."""

    process: subprocess.Popen[str]
    code: str
    output: list[str]
    reader: threading.Thread

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        exit_code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return exit_code, "".join(self.output)


def start_device_code_sign_in(cli: Cli, *args: str) -> DeviceCodeSignIn:
    """Start a delegated CLI command and wait until it prints its device code."""
    process = cli.popen(*args)
    lines: list[str] = []
    code: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = re.search(r"sandbox approve (\S+?)'", line)
            if match:
                code.append(match.group(1))
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert found.wait(60), "".join(lines)
    return DeviceCodeSignIn(process, code[0], lines, reader)


EXCHANGE_PUBLIC_CLIENT = "fb78d390-0c51-40cd-8e17-fdbfab77341b"  # the Exchange module's app


def delegated_copy(config_path: Path, source: str, name: str) -> None:
    """Profile ``name``: ``source`` with a device-code sign-in to Exchange."""
    import tomllib

    from toolkit.core import config

    settings: dict[str, Any] = tomllib.loads(config_path.read_text())["profiles"][source]
    exchange = settings["exchange"]
    settings["exchange"] = {"organization": exchange["organization"],
                            "authority": exchange["authority"],
                            "app_id": EXCHANGE_PUBLIC_CLIENT, "delegated": True}
    settings.pop("graph", None)
    config.write_profile(name, settings, config_path)


def bulk_seed(path: Path, mailboxes: int) -> Path:
    """The demo seed with ``mailboxes`` more user mailboxes in contoso (bulkNNNN@contoso.com)."""
    from toolkit.sandbox.tenant import demo

    path.write_text(json.dumps(demo.with_bulk_mailboxes(demo.demo_seed(), mailboxes)))
    return path


def wait_for_mailbox(cli: Cli, address: str, timeout: float = 120) -> None:
    """Until the service has provisioned ``address``'s mailbox (a generous deadline)."""
    deadline = time.monotonic() + timeout
    while address not in {m["PrimarySmtpAddress"] for m in cli.json(
            "--profile", "lab", "task", "run", "exchange/list-mailboxes")}:
        assert time.monotonic() < deadline, f"no mailbox for {address}"
        time.sleep(0.2)


def rows_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def rows_done(home: Path) -> int:
    """Rows of any job in the isolated home's job store that have an outcome."""
    import sqlite3

    path = home / "data" / "jobs.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT COUNT(*) FROM rows WHERE status IN "
                                  "('changed','unchanged','failed')").fetchone()[0])
    except sqlite3.OperationalError:  # the CLI is still creating the store
        return 0


def helpdesk_profile(home: Path) -> str:
    """A copy of the admin profile ``lab`` signed in as the sandbox's helpdesk account."""
    import os
    import tomllib

    from toolkit.core.config import write_profile
    from toolkit.sandbox.tenant.demo import HELPDESK_ACCOUNT

    config = home / "config.toml"
    settings = tomllib.loads(config.read_text())["profiles"]["lab"]
    password_file = home / "helpdesk.password"
    descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(HELPDESK_ACCOUNT[1])
    write_profile("helpdesk", {**settings, "username": HELPDESK_ACCOUNT[0], "role": "helpdesk",
                               "password_file": str(password_file)}, config)
    return "helpdesk"
