"""The CSVData of an IMAP migration batch, validated as Exchange Online does: its size
and row limits, the required and optional columns, the text encodings it may come in, and
the wording of each refusal. Parsing needs nothing of the tenant, so it sits below
:mod:`.migration` (which builds batches from the rows) and is also read on its own for the
command log (:func:`csv_addresses`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from toolkit.sandbox.tenant import errors

MAX_CSV_ROWS = 50_000
MAX_CSV_BYTES = 10 * 1024 * 1024
REQUIRED_COLUMNS = ("EmailAddress", "UserName", "Password")
OPTIONAL_COLUMNS = ("UserRoot",)


@dataclass(frozen=True)
class CsvRow:
    line: int
    email: str
    username: str
    password: str
    user_root: str


def parse_csv(data: bytes, allow_unknown_columns: bool = False) -> list[CsvRow]:
    """Validate CSVData as Exchange Online does for an IMAP batch."""
    if len(data) > MAX_CSV_BYTES:
        raise errors.migration(
            f"The CSV data is {len(data):,} bytes; the maximum for a migration batch is "
            "10 MB. Split the users into smaller batches.",
            "MigrationCSVTooLargeException",
        )
    text = _decode(data)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise errors.migration("The CSV data is empty. It must start with the header line "
                               "EmailAddress,UserName,Password.", "MigrationCSVParsingException")
    columns = [cell.strip() for cell in header]
    by_fold = {c.casefold(): c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
    for column in REQUIRED_COLUMNS:
        if column.casefold() not in {c.casefold() for c in columns}:
            raise errors.migration(
                f"The CSV data doesn't contain the required column \"{column}\". An IMAP "
                "migration needs the columns EmailAddress, UserName and Password "
                "(UserRoot is optional).",
                "MigrationCSVMissingColumnException",
            )
    unknown = [c for c in columns if c.casefold() not in by_fold]
    if unknown and not allow_unknown_columns:
        raise errors.migration(
            f"The CSV data contains the unknown column \"{unknown[0]}\". Remove it, or pass "
            "-AllowUnknownColumnsInCsv $true to ignore it.",
            "MigrationCSVUnknownColumnException",
        )
    index = {c.casefold(): i for i, c in enumerate(columns)}
    rows: list[CsvRow] = []
    seen: dict[str, int] = {}
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        line = reader.line_num

        def cell(name: str, record: list[str] = record) -> str:
            position = index.get(name.casefold())
            return record[position].strip() if position is not None and position < len(
                record) else ""

        email, username = cell("EmailAddress"), cell("UserName")
        password = record[index["password"]] if index["password"] < len(record) else ""
        for column, value in (("EmailAddress", email), ("UserName", username),
                              ("Password", password)):
            if not value:
                raise errors.migration(
                    f"Line {line} of the CSV data has no value in the column \"{column}\".",
                    "MigrationCSVParsingException",
                )
        if "@" not in email:
            raise errors.migration(
                f"Line {line} of the CSV data: \"{email}\" isn't a valid email address.",
                "MigrationCSVParsingException",
            )
        folded = email.casefold()
        if folded in seen:
            raise errors.migration(
                f"The CSV data contains a duplicate entry for \"{email}\" on line {line} "
                f"(first on line {seen[folded]}). Each EmailAddress can appear only once.",
                "MigrationCSVDuplicateEntryException",
            )
        seen[folded] = line
        rows.append(CsvRow(line, email, username, password, cell("UserRoot")))
        if len(rows) > MAX_CSV_ROWS:
            raise errors.migration(
                "The CSV data contains more than 50,000 rows, the maximum for a migration "
                "batch. Split the users into smaller batches.",
                "MigrationCSVTooManyRowsException",
            )
    if not rows:
        raise errors.migration("The CSV data contains no users.", "MigrationCSVParsingException")
    return rows


def csv_addresses(data: bytes) -> list[str] | None:
    """The EmailAddress column of CSV data (None without one), for the command log."""
    reader = csv.reader(io.StringIO(_decode(data)))
    header = [cell.strip().casefold() for cell in next(reader, [])]
    if "emailaddress" not in header:
        return None
    column = header.index("emailaddress")
    return [record[column].strip() for record in reader
            if len(record) > column and record[column].strip()]


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.migration(
            "The CSV data isn't valid text; save it as UTF-8 or Unicode.",
            "MigrationCSVParsingException",
        ) from exc
