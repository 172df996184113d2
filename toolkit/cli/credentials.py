"""Temporary passwords handed out by a command: shown once, or written to one private file.

They never go to the journal, logs, results files or exported scripts: the only copies
are the tenant's, the screen's (printed once at the end), or the ``--credentials-out``
file, which is created with mode 0600 and never overwritten.

So that a crash or ``kill -9`` cannot lose them silently, the passwords a run is about to
set are first kept in an owner-only file under ``<data>/undelivered-passwords/``, deleted
once they were shown or written. A later ``users activate`` or ``jobs resume`` finds the
file of a run that died, names its accounts and offers ``users reset-password``.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import click

from toolkit.cli.main import AppContext
from toolkit.cli.output import emit
from toolkit.core import paths
from toolkit.core.errors import InputError
from toolkit.core.processes import process_alive


def _spool_dir() -> Path:
    return paths.data_dir() / "undelivered-passwords"


def report_undelivered() -> None:
    """Name the accounts whose temporary password a run that died never delivered."""
    folder = _spool_dir()
    for spool in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        pid = spool.stem.rsplit("-", 1)[-1]
        if pid.isdigit() and process_alive(int(pid)):
            continue  # a run still going
        with spool.open(encoding="utf-8", newline="") as handle:
            users = [row["UserPrincipalName"] for row in csv.DictReader(handle)]
        click.echo(f"warning: an interrupted run may have set temporary passwords that were "
                   f"never shown, for {len(users)} account(s): {', '.join(users)}", err=True)
        click.echo(f"hint: they are kept in {spool} (mode 0600): hand them over and delete "
                   "the file, or give each a new one: psbridge users reset-password USER",
                   err=True)


def refuse_existing(path: Path | None) -> None:
    """Checked before anything is read or changed."""
    if path is not None and (path.exists() or path.is_symlink()):
        raise InputError(f"--credentials-out {path}: the file exists; psbridge never "
                         "overwrites a credentials file",
                         hint="Move it away (and shred it once handed over), or name a new file.")


class Credentials:
    """Collects (user, password) pairs as rows are applied; see the module docstring."""

    def __init__(self, path: Path | None):
        self.path = path
        self.spool: Path | None = None
        self.count = 0
        self._shown: list[dict[str, str]] = []
        self._handle: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def keep(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Keep passwords about to be set in the owner-only spool, until :meth:`finish`."""
        pairs = list(pairs)
        if not pairs:
            return
        if self.spool is None:
            folder = _spool_dir()
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.spool = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.csv"
            descriptor = os.open(self.spool, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                csv.writer(handle).writerow(["UserPrincipalName", "TemporaryPassword"])
        with self.spool.open("a", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(pairs)
            handle.flush()
            os.fsync(handle.fileno())

    def add(self, user: str, password: str) -> None:
        self.count += 1
        if self.path is None:
            self._shown.append({"user": user, "temporary password": password})
            return
        if self._writer is None:
            refuse_existing(self.path)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._handle = os.fdopen(descriptor, "w", encoding="utf-8", newline="")
            self._writer = csv.DictWriter(self._handle,
                                          ["UserPrincipalName", "TemporaryPassword"])
            self._writer.writeheader()
        assert self._handle is not None
        self._writer.writerow({"UserPrincipalName": user, "TemporaryPassword": password})
        self._handle.flush()

    def finish(self, app: AppContext) -> None:
        """Close the file, or print the passwords once (on stderr unless a table is shown)."""
        if self._handle is not None:
            self._handle.close()
            click.echo(f"{self.count} temporary password(s) written to {self.path} "
                       "(mode 0600); they are shown nowhere else", err=True)
        elif self.path is not None:
            click.echo(f"no temporary password was handed out; {self.path} was not created",
                       err=True)
        elif self._shown:
            click.echo("Temporary passwords, shown once (each must be changed at first "
                       "sign-in):", err=True)
            on_screen = AppContext(output="table")
            stream = None if app.output == "table" else sys.stderr
            emit(on_screen, self._shown, ["user", "temporary password"], stream=stream)
        if self.spool is not None:  # delivered (shown or written): no other copy is kept
            self.spool.unlink(missing_ok=True)
