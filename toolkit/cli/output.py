"""Printing results in the format chosen with ``--output``: table, json or csv."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from toolkit.cli.main import AppContext
from toolkit.io.plain_text import plain_cell
from toolkit.io.results import excel_safe


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def emit(app: AppContext, rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
         *, title: str | None = None, stream: TextIO | None = None) -> None:
    """Print rows: a rich table on screen, or JSON / CSV for machines."""
    out = stream or sys.stdout
    if app.output == "json":
        json.dump([{c: row.get(c) for c in columns} for row in rows], out, indent=2,
                  default=str)
        out.write("\n")
    elif app.output == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([excel_safe(_cell(row.get(c))) for c in columns])
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=plain_cell(title) if title else None, show_lines=False,
                      header_style="bold")
        for index, column in enumerate(columns):
            # The first column names the row: never wrap or cut it.
            table.add_column(plain_cell(column), no_wrap=index == 0, overflow="fold")
        for row in rows:  # tenant and CSV strings: shown literally, never as markup
            table.add_row(*(plain_cell(_cell(row.get(c))) for c in columns))
        # Piped or redirected, a table keeps its natural width instead of 80 columns.
        width = None if out.isatty() else 200
        Console(file=out, soft_wrap=False, width=width).print(table)
