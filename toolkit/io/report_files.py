"""Report files of plain rows: CSV (Excel-safe, shared with the permission reports), JSON
or a self-contained HTML page (a summary, then a table that sorts and filters), chosen by
the file name's suffix."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.io.perm_reports import html_page, report_format, small_table, write_csv


@dataclass(frozen=True)
class Section:
    """A small summary table: a heading, its rows and columns, what to say when empty."""

    heading: str
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[str]
    empty: str = "None."


@dataclass(frozen=True)
class Summary:
    """What the top of an HTML report says: a meta line, cards, small tables."""

    meta: str = ""
    cards: Sequence[tuple[str, Any]] = ()
    sections: Sequence[Section] = ()


def write_report(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                 *, title: str, summary: Summary | None = None) -> None:
    """Rows as CSV or JSON; as HTML, the summary and a table that sorts and filters (the
    permission reports' page)."""
    suffix = report_format(path)
    if suffix == ".csv":
        write_csv(path, rows, columns)
    elif suffix == ".json":
        path.write_text(json.dumps([{c: row.get(c) for c in columns} for row in rows],
                                   indent=2, default=str) + "\n", encoding="utf-8")
    else:
        summary = summary or Summary()
        sections = "\n".join(f"<h2>{html.escape(s.heading)}</h2>"
                             + small_table(s.rows, s.columns, s.empty)
                             for s in summary.sections)
        path.write_text("".join(html_page(title, html.escape(summary.meta), summary.cards,
                                          sections, rows, columns, "Every row",
                                          shown=len(rows))), encoding="utf-8")
