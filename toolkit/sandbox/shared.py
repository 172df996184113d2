"""One embedded sandbox per data folder, shared by every psbridge command that uses it.

The ``sandbox`` profile used to start a sandbox inside each command. Two commands running at
once (a ``migrate imap status --watch`` next to a ``perms grant``) then each held their own
copy of the tenant, and the one that saved last wrote the other's changes away. Now the
first command starts one sandbox server process for the data folder and every later
command connects to it, so all of them see and keep each other's changes.

``<data>/sandbox/server.json`` (owner-only) names the running server: its pid, URL, admin
account and the profile settings that sign in to it. Starting, reusing and stopping happen
under an exclusive lock on ``<data>/sandbox/server.lock``, so two commands starting at once
start one server. A record whose process is gone or whose port does not answer (a
``kill -9``, a reboot) is stale and replaced. The server saves the tenant at the end of
every pipeline with an atomic replace, so a killed server loses at most the pipeline it was
running, whose client never heard it succeed. It ends with ``psbridge sandbox stop``, or by
itself after :data:`IDLE_EXIT_S` seconds without a request.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from toolkit.sandbox.errors import SandboxUnavailable
from toolkit.sandbox.local_system import process_alive

SERVER_FILE = "server.json"
LOCK_FILE = "server.lock"
LOG_FILE = "server.log"
IDLE_EXIT_S = 15 * 60  # PSBRIDGE_SANDBOX_IDLE_S overrides it
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SharedSandbox:
    """Where the data folder's sandbox server listens and how to sign in to it."""

    pid: int
    url: str
    username: str
    password: str
    ca_cert: str
    profile_settings: dict[str, Any]
    imap_ports: dict[str, int] = field(default_factory=dict)  # by security: ssl, tls, none

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 443


def connect_shared(root: Path) -> SharedSandbox:
    """The data folder's running sandbox server; started when none answers."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(root):
        current = read_record(root)
        if current is not None and _answers(current):
            return current
        (root / SERVER_FILE).unlink(missing_ok=True)
        return _start(root)


def stop_shared(root: Path) -> SharedSandbox | None:
    """Stop the data folder's sandbox server; None when none was running."""
    if not root.is_dir():
        return None
    with _locked(root):
        current = read_record(root)
        (root / SERVER_FILE).unlink(missing_ok=True)
        if current is None or not process_alive(current.pid):
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(current.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while process_alive(current.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if process_alive(current.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(current.pid, signal.SIGKILL)
        return current


def read_record(root: Path) -> SharedSandbox | None:
    """The server record, or None when there is none or it is unreadable (replaced then)."""
    try:
        data = json.loads((root / SERVER_FILE).read_text(encoding="utf-8"))
        return SharedSandbox(**data)
    except (OSError, ValueError, TypeError):
        return None


@contextlib.contextmanager
def _locked(root: Path, *, blocking: bool = True) -> Iterator[bool]:
    descriptor = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # closing releases the lock


def _answers(record: SharedSandbox) -> bool:
    if not process_alive(record.pid):
        return False
    try:
        with socket.create_connection(record.address, timeout=5):
            return True
    except OSError:
        return False


def _start(root: Path) -> SharedSandbox:
    """Start the server in a session of its own (it outlives this command) and wait for it."""
    log_path = root / LOG_FILE
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "toolkit.sandbox.shared", str(root)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        record = read_record(root)
        if record is not None and record.pid == process.pid:
            return record
        if process.poll() is not None:
            break
        time.sleep(0.05)
    else:
        process.kill()
    tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
    raise SandboxUnavailable("the shared sandbox server did not start:\n" + "\n".join(tail),
                             hint=f"Its log: {log_path}")


def _write_record(root: Path, record: SharedSandbox) -> None:
    """Atomically, owner-only: the record holds the sandbox admin's password."""
    temporary = root / f"{SERVER_FILE}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(asdict(record), handle)
    os.replace(temporary, root / SERVER_FILE)


def _idle_limit() -> float:
    try:
        return float(os.environ.get("PSBRIDGE_SANDBOX_IDLE_S", IDLE_EXIT_S))
    except ValueError:
        return IDLE_EXIT_S


class _Stopped(Exception):
    """SIGTERM or SIGINT: leave the serving loop."""


def _stop_on_signals() -> None:
    """Stop on the first SIGTERM or SIGINT by raising :class:`_Stopped` in the main thread,
    and ignore later ones while shutting down. (Not an Event set by the handler: the signal
    can land while the main thread holds that Event's lock inside its own wait, and the
    handler's set() then waits for it forever.)"""

    def stop(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise _Stopped

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def serve(root: Path) -> None:
    """The server process: serve until SIGTERM/SIGINT or until idle, then remove the record."""
    from toolkit.sandbox.imap_listener import seeded_accounts, start_imap_listeners
    from toolkit.sandbox.server import SandboxOptions, settle_heap, start_sandbox, tls_context

    _stop_on_signals()
    running = start_sandbox(SandboxOptions(https=True, seed="demo", state=root / "state.json",
                                           tls_dir=root / "tls"))
    settle_heap()
    backend: Any = running.backend
    imap = start_imap_listeners(seeded_accounts(backend.services.store),
                                tls_context(root / "tls")[0])
    try:
        authority = running.url.removesuffix("/wsman")
        settings = backend.profile_settings(authority)
        _write_record(root, SharedSandbox(os.getpid(), running.url, running.username,
                                          running.password, str(running.ca_cert), settings,
                                          imap.ports))
        idle_limit = _idle_limit()
        while True:
            time.sleep(min(5.0, idle_limit))
            if running.idle_for() < idle_limit:
                continue
            # Idle: end only while no command is looking the server up, so that a command
            # that has just found it gets a whole idle period to use it.
            with _locked(root, blocking=False) as acquired:
                if acquired and running.idle_for() >= idle_limit:
                    _forget(root)
                    break
    except _Stopped:
        pass
    finally:
        imap.stop()
        running.stop()
        _forget(root)


def _forget(root: Path) -> None:
    record = read_record(root)
    if record is not None and record.pid == os.getpid():
        (root / SERVER_FILE).unlink(missing_ok=True)


if __name__ == "__main__":  # pragma: no cover - run as a process by _start
    with contextlib.suppress(_Stopped):  # stopped while still starting
        serve(Path(sys.argv[1]))
