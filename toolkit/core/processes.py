"""Whether a process recorded by pid (a job's, a shared sandbox's) is still running."""

from __future__ import annotations

import contextlib
import os


def process_alive(pid: int | None) -> bool:
    """True while ``pid`` runs on this machine (a zombie child of ours counts as gone)."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    with contextlib.suppress(ChildProcessError):  # our own child that exited: reap it
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True
