"""The one report writer: CSV (Excel-safe), JSON or a self-contained HTML page, chosen by
the file name's suffix.

Each kind of report (a permission audit or diff, a table of plain rows) says how its rows
read as JSON and as HTML; CSV is the same for all: the columns, one line per row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.core.errors import InputError
from toolkit.io.results import excel_safe

FORMATS = (".json", ".csv", ".html")

Rows = Iterable[Mapping[str, Any]]
# The pieces of a JSON document or an HTML page made of the rows, in the order written.
Pieces = Callable[[Rows], Iterable[str]]


def report_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".htm":
        suffix = ".html"
    if suffix not in FORMATS:
        raise InputError(f"--out {path}: use a .json, .csv or .html file name")
    return suffix


def write_report(path: Path, rows: Rows, columns: Sequence[str], *, json: Pieces,
                 html: Pieces) -> None:
    """Write ``rows`` in the format the name says, piece by piece: a whole tenant's rows
    (an iterator over a snapshot) are never held in memory, neither as objects nor as one
    big string."""
    kind = report_format(path)
    if kind == ".csv":
        write_csv(path, rows, columns)
        return
    with open(path, "w", encoding="utf-8") as handle:
        for piece in (json if kind == ".json" else html)(rows):
            handle.write(piece)


def write_csv(path: Path, rows: Rows, columns: Sequence[str]) -> None:
    """UTF-8 with a BOM (Excel then reads the accents right), formulas neutralised."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([excel_safe("" if row.get(c) is None else str(row.get(c)))
                             for c in columns])
