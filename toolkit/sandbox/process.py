"""A sandbox in a process of its own (``psbridge sandbox serve``), for tests and benchmarks.

Its output is read continuously by a thread, so a chatty sandbox never blocks on a full
pipe, and kept for when something goes wrong.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from toolkit.sandbox.errors import SandboxUnavailable

READY_LINE = "Press Ctrl-C"


@dataclass
class SandboxProcess:
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def spawn_sandbox(arguments: Sequence[str], env: Mapping[str, str], *,
                  timeout: float = 300) -> SandboxProcess:
    """Run ``psbridge sandbox serve ARGUMENTS`` and return once it is listening (it says
    so); ``timeout`` only ends the wait for a server that hangs, so it is generous: a
    loaded machine took more than a minute to start one."""
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "sandbox", "serve", *arguments], env=dict(env),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    sandbox = SandboxProcess(process)
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            sandbox.output.append(line)
            if line.startswith(READY_LINE):
                ready.set()

    threading.Thread(target=pump, daemon=True, name="sandbox-output").start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SandboxUnavailable("the sandbox did not start:\n" + "".join(sandbox.output))
    return sandbox
