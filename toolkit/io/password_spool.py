"""Temporary passwords about to be set, kept until they are handed over.

So that a crash or ``kill -9`` cannot lose them silently, the passwords a run is about to
set are first kept in an owner-only file under ``<data>/undelivered-passwords/``, deleted
once they were shown or written. A later run finds the file of a run that died
(:func:`undelivered`) and names its accounts.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterable
from pathlib import Path

from toolkit.core import paths
from toolkit.core.processes import process_alive

HEADER = ["UserPrincipalName", "TemporaryPassword"]


def _spool_dir() -> Path:
    return paths.data_dir() / "undelivered-passwords"


def undelivered() -> list[tuple[Path, list[str]]]:
    """The spools left by runs that died, each with the accounts it names."""
    folder = _spool_dir()
    found: list[tuple[Path, list[str]]] = []
    for spool in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        pid = spool.stem.rsplit("-", 1)[-1]
        if pid.isdigit() and process_alive(int(pid)):
            continue  # a run still going
        with spool.open(encoding="utf-8", newline="") as handle:
            found.append((spool, [row["UserPrincipalName"] for row in csv.DictReader(handle)]))
    return found


class PasswordSpool:
    """This run's owner-only spool (created on the first password kept)."""

    def __init__(self) -> None:
        self.path: Path | None = None

    def keep(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Keep (user, password) pairs about to be set, on disk before they are sent."""
        pairs = list(pairs)
        if not pairs:
            return
        if self.path is None:
            folder = _spool_dir()
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.csv"
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                csv.writer(handle).writerow(HEADER)
        with self.path.open("a", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(pairs)
            handle.flush()
            os.fsync(handle.fileno())

    def delivered(self) -> None:
        """The passwords were handed over (shown or written): no other copy is kept."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
