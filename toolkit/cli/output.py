"""Printing results in the format chosen with ``--output``: table, json or csv."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import click

from toolkit.api.results import excel_safe, visible
from toolkit.cli.context import AppContext


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def plain_cell(text: str) -> Any:
    """A rich renderable showing ``text`` literally (no markup, nothing invisible)."""
    from rich.text import Text

    return Text(visible(text))


def emit(app: AppContext, rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
         *, title: str | None = None, stream: TextIO | None = None) -> None:
    """Print rows: a rich table on screen, or JSON / CSV for machines."""
    out = stream or sys.stdout
    if app.output == "json":
        records = [{c: row.get(c) for c in columns} for row in rows]
        context = click.get_current_context(silent=True)
        if stream is None and context is not None:
            _json_sections(context).append((title, records))
            return
        json.dump(records, out, indent=2, default=str)
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


_JSON_KEY = "psbridge.json_sections"


def _json_sections(context: click.Context) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """What a command prints with ``-o json``, collected so that it prints one document
    when it ends (a command that runs in phases emits more than once)."""
    root = context.find_root()
    if _JSON_KEY not in root.meta:
        root.meta[_JSON_KEY] = []
        root.call_on_close(lambda: _print_json(root.meta[_JSON_KEY]))
    sections: list[tuple[str | None, list[dict[str, Any]]]] = root.meta[_JSON_KEY]
    return sections


def _print_json(sections: list[tuple[str | None, list[dict[str, Any]]]]) -> None:
    """One section: its list. Sections of one shape (a job's phases): one list. Otherwise
    an object with a key per section (its title)."""
    if not sections:
        return
    shapes = {tuple(records[0]) if records else None for _, records in sections}
    document: Any
    if len(shapes - {None}) <= 1:
        document = [record for _, records in sections for record in records]
    else:
        document = {title or f"section {n}": records
                    for n, (title, records) in enumerate(sections, start=1)}
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def outcome(app: AppContext | None, text: str, record: Mapping[str, Any]) -> None:
    """A command's outcome: ``text`` on screen, ``record`` (one row) with -o json or csv."""
    if app is None or app.output == "table":
        click.echo(text)
        return
    emit(app, [record], list(record))
