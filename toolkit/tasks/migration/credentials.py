"""Corrected credentials for the failed users of a batch: which rows go to which batch.

Exchange Online takes them as CSV data again: ``Set-MigrationBatch -Identity B -CSVData``
re-submits the rows of users already in batch B, then ``Start-MigrationBatch`` retries the
batch's failed users (users that synced keep their schedule). The file is today's or the
legacy format, read as a batch's input is; each row must be a failed user of the batch
NAME or of a batch split off from it (NAME-2...), else nothing is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit.io.csvfile import CsvInvalid, Problem
from toolkit.tasks.migration.csv_formats import MigrationInput, SourceRow, csv_data
from toolkit.tasks.migration.status import FAILED, BatchState, UserState

CREDENTIALS_TEMPLATE = "exchange/migration-credentials"


def rows_by_batch(source: MigrationInput, name: str, batches: Sequence[BatchState]
                  ) -> dict[str, list[SourceRow]]:
    """``source``'s rows grouped by their user's batch; CsvInvalid (every problem with its
    line) when a row's user is not in the batches or has not failed."""
    users = {u.email.casefold(): u for b in batches for u in b.users}
    column = "TargetIdentity" if source.legacy else "EmailAddress"
    grouped: dict[str, list[SourceRow]] = {}
    problems: list[Problem] = []
    for row in source.rows:
        user = users.get(row.email.casefold())
        problem = _problem(row, user, name)
        if problem is not None:
            problems.append(Problem(str(source.path), row.line, column, problem))
        elif user is not None:
            grouped.setdefault(user.batch, []).append(row)
    if problems:
        raise CsvInvalid(str(source.path), problems)
    return grouped


def _problem(row: SourceRow, user: UserState | None, name: str) -> str | None:
    if user is None:
        return f"{row.email} is not a user of migration batch {name}"
    if user.status not in FAILED:
        return (f"{row.email} is {user.status} in batch {user.batch}, not failed: only "
                "failed users are given new credentials")
    return None


def template_rows(grouped: dict[str, list[SourceRow]]) -> list[dict[str, Any]]:
    """One row per batch for ``exchange/migration-credentials``; CSVData is secret."""
    return [{"Batch": batch, "Users": len(rows), "CSVData": csv_data(rows)}
            for batch, rows in grouped.items()]
