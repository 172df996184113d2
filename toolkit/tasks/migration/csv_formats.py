"""The migration CSV, in today's format or the legacy POP-era one, read strictly.

Today's format is what ``New-MigrationBatch -CSVData`` takes: ``EmailAddress, UserName,
Password[, UserRoot]``. The 2010-era ``Move-XsPOPMailboxToExchangeOnline`` took
``SourceIdentity, SourceServer, SourceLoginID, SourcePassword, TargetIdentity``; such
files are converted (TargetIdentity -> EmailAddress, SourceLoginID -> UserName,
SourcePassword -> Password) and keep their per-row SourceServer. Either is read with the
shared tolerant CSV reader (BOM, UTF-16, semicolons, tabs); every problem is listed with
its line before anything runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.io.csvfile import Column, CsvFile, CsvInvalid, Problem

LEGACY_MARKERS = {"sourceidentity", "sourceserver", "sourceloginid", "sourcepassword",
                  "targetidentity"}
CSVDATA_HEADER = ("EmailAddress", "UserName", "Password")


def _address(text: str) -> str:
    local, at, domain = text.partition("@")
    if not at or not local or "." not in domain or " " in text:
        raise ValueError(f"{text!r} is not an email address")
    return text


TODAY_COLUMNS = [
    Column("EmailAddress", parse=_address),
    Column("UserName"),
    Column("Password"),
    Column("UserRoot", required=False),
]
LEGACY_COLUMNS = [
    Column("SourceIdentity", required=False),
    Column("SourceServer"),
    Column("SourceLoginID"),
    Column("SourcePassword"),
    Column("TargetIdentity", parse=_address),
]


@dataclass(frozen=True)
class SourceRow:
    """One mailbox to migrate, whichever format it came from."""

    line: int
    email: str
    username: str
    password: str = field(repr=False)
    user_root: str = ""
    server: str | None = None  # the legacy format's SourceServer, as written


@dataclass(frozen=True)
class MigrationInput:
    path: Path
    legacy: bool
    rows: list[SourceRow]
    sha256: str

    @property
    def format_name(self) -> str:
        return ("legacy (SourceServer, SourceLoginID, SourcePassword, TargetIdentity)"
                if self.legacy else "today's (EmailAddress, UserName, Password)")


def read_migration_csv(path: Path) -> MigrationInput:
    """Every row, converted; raises CsvInvalid listing every problem (duplicates too)."""
    probe = CsvFile(path, [], allow_extra=True)
    legacy = any(title.lower() in LEGACY_MARKERS for title in probe.header())
    columns = LEGACY_COLUMNS if legacy else TODAY_COLUMNS
    email_column = "TargetIdentity" if legacy else "EmailAddress"
    source = CsvFile(path, columns)
    problems, _ = source.check()
    # Duplicates are found on every row, even rows with other problems: one full list.
    loose = CsvFile(path, [Column(c.name, required=c.required, nullable=True)
                           for c in columns])
    try:
        addresses = [(row.line, str(row.values[email_column] or ""))
                     for row in loose.rows() if row.values[email_column]]
    except CsvInvalid:  # a header problem: already in ``problems``
        addresses = []
    problems = sorted([*problems, *duplicate_problems(str(path), addresses, email_column)],
                      key=lambda p: p.line)
    if problems:
        raise CsvInvalid(str(path), problems)
    rows: list[SourceRow] = []
    for row in source.rows():
        values = row.values
        if legacy:
            rows.append(SourceRow(row.line, values["TargetIdentity"], values["SourceLoginID"],
                                  values["SourcePassword"], "", values["SourceServer"]))
        else:
            rows.append(SourceRow(row.line, values["EmailAddress"], values["UserName"],
                                  values["Password"], values["UserRoot"] or ""))
    return MigrationInput(path, legacy, rows, source.sha256())


def duplicate_problems(path: str, addresses: Iterable[tuple[int, str]], column: str
                       ) -> list[Problem]:
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for line, address in addresses:
        key = address.casefold()
        if key in first:
            problems.append(Problem(path, line, column,
                                    f"{address} appears twice (first on line {first[key]})"))
        else:
            first[key] = line
    return problems


def csv_data(rows: Iterable[SourceRow]) -> bytes:
    """The bytes for ``New-MigrationBatch -CSVData`` (UTF-8, today's headers)."""
    rows = list(rows)
    with_root = any(r.user_root for r in rows)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([*CSVDATA_HEADER, *(["UserRoot"] if with_root else [])])
    for row in rows:
        writer.writerow([row.email, row.username, row.password,
                         *([row.user_root] if with_root else [])])
    return text.getvalue().encode("utf-8")


def csv_data_size(row: SourceRow) -> int:
    """Bytes one row adds to the CSV data (an upper bound: UserRoot is always counted)."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerow(
        [row.email, row.username, row.password, row.user_root])
    return len(text.getvalue().encode("utf-8"))
