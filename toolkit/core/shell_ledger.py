"""The ledger of the shells left open on management hosts, and their reaping.

Local bookkeeping (a file per open shell under ``<data>/shells/``), kept apart from
:mod:`toolkit.core.session`, which opens the shells and deletes them on the host
(:func:`~toolkit.core.session.delete_shell`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from toolkit.core import paths
from toolkit.core.processes import process_alive
from toolkit.core.session import Endpoint, delete_shell

log = logging.getLogger(__name__)


class ShellLedger:
    """The shells this machine's psbridge processes hold open on management hosts.

    A process killed mid-job (``kill -9``, a crash, a reboot) cannot close its shells, and
    the host keeps them, with their cloud connections, until its idle timeout: long enough
    to exhaust the per-account session limit for the resume that follows. Each open shell
    is recorded in ``<data>/shells/`` and forgotten only when the host confirms it closed;
    :meth:`reap` deletes the shells whose process is gone, and those a failed close
    abandoned.
    """

    def __init__(self, root: Path | None = None):
        self.root = root or paths.data_dir() / "shells"

    def add(self, endpoint: Endpoint, shell_id: str) -> Path:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        record = self.root / f"{os.getpid()}-{shell_id}.json"
        record.write_text(json.dumps({"pid": os.getpid(), "url": endpoint.url,
                                      "username": endpoint.username, "shell_id": shell_id}))
        return record

    def orphans(self, endpoint: Endpoint) -> list[tuple[Path, str]]:
        found = []
        for record in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            try:
                data = json.loads(record.read_text())
            except (OSError, ValueError):
                continue
            if (data.get("url"), data.get("username")) != (endpoint.url, endpoint.username):
                continue
            if data.get("abandoned") or not process_alive(int(data.get("pid", 0))):
                found.append((record, str(data["shell_id"])))
        return found

    def abandon(self, record: Path) -> None:
        """Mark a live process's shell whose delete failed: the next :meth:`reap` retries it."""
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(record.read_text())
            record.write_text(json.dumps({**data, "abandoned": True}))

    def reap(self, endpoint: Endpoint) -> int:
        """Delete the shells a dead process (or a failed close) left on this endpoint's host.

        A record is removed only once the host confirms the shell is gone; a shell that
        cannot be deleted now (wrong password, host unreachable) stays recorded for the next
        run. Returns how many shells were closed.
        """
        orphans = self.orphans(endpoint)
        closed = 0
        for record, shell_id in orphans:
            if delete_shell(endpoint, shell_id):
                record.unlink(missing_ok=True)
                closed += 1
                log.info("closed shell %s left on %s", shell_id, endpoint.url)
            else:
                log.warning("could not close shell %s left on %s; will try again on the next "
                            "run", shell_id, endpoint.url)
        return closed
