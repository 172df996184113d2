"""Report files of plain rows: what their JSON document and HTML page say (a summary, then
a table that sorts and filters); written by the shared writer (:mod:`toolkit.io.reports`),
CSV Excel-safe as the permission reports'."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.io.report_html import escape, html_page, small_table
from toolkit.io.reports import Rows, write_report


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


def write_rows_report(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                      *, title: str, summary: Summary | None = None) -> None:
    """Rows as CSV or JSON; as HTML, the summary and a table that sorts and filters (the
    permission reports' page)."""
    top = summary or Summary()

    def json_parts(table: Rows) -> list[str]:
        return [json.dumps([{c: row.get(c) for c in columns} for row in table],
                           indent=2, default=str) + "\n"]

    def html_parts(table: Rows) -> Iterable[str]:
        sections = "\n".join(f"<h2>{escape(s.heading)}</h2>"
                             + small_table(s.rows, s.columns, s.empty)
                             for s in top.sections)
        return html_page(title, escape(top.meta), top.cards, sections, table, columns,
                         "Every row", shown=len(rows))

    write_report(path, rows, columns, json=json_parts, html=html_parts)
