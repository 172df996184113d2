"""Where the sandbox keeps its files and whether a recorded process still runs.

Sandbox-local on purpose: the sandbox imports nothing from the product. The data folder
is the product's (``PSBRIDGE_DATA`` or the user data folder of ``psbridge``), so a sandbox
started by ``psbridge`` and one started on its own find the same TLS material.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

APP_NAME = "psbridge"


def data_dir() -> Path:
    """``PSBRIDGE_DATA``, else the user data folder of psbridge."""
    override = os.environ.get("PSBRIDGE_DATA")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


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
