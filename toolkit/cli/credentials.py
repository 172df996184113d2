"""Temporary passwords handed out by a command: shown once, or written to one private file.

They never go to the journal, logs, results files or exported scripts: the only copies
are the tenant's, the screen's (printed once at the end), or the ``--credentials-out``
file, which is created with mode 0600 and never overwritten.

The API keeps the passwords a run is about to set in an owner-only spool until they were
handed over; a later ``users activate`` or ``jobs resume`` names the accounts of a run that
died (``toolkit.api.users.undelivered``) and offers ``users reset-password``.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import IO

import click

from toolkit.cli.context import AppContext
from toolkit.cli.output import emit
from toolkit.core.errors import InputError


def report_undelivered() -> None:
    """Name the accounts whose temporary password a run that died never delivered."""
    from toolkit.api.users import undelivered

    for spool, users in undelivered():
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
    """Hands (user, password) pairs over as rows are applied: to the file, or to the screen
    at the end; see the module docstring."""

    def __init__(self, path: Path | None):
        self.path = path
        self.count = 0
        self._shown: list[dict[str, str]] = []
        self._handle: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

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
