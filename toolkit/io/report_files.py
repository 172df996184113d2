"""Report files of plain rows: CSV (Excel-safe, shared with the permission reports), JSON
or a self-contained HTML table, chosen by the file name's suffix."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.io.perm_reports import report_format, write_csv

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
          "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
          "th{background:#f3f3f3}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_report(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                 *, title: str) -> None:
    suffix = report_format(path)
    if suffix == ".csv":
        write_csv(path, rows, columns)
    elif suffix == ".json":
        path.write_text(json.dumps([{c: row.get(c) for c in columns} for row in rows],
                                   indent=2, default=str) + "\n", encoding="utf-8")
    else:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "\n".join(
            "<tr>" + "".join(f"<td>{html.escape(_text(row.get(c)))}</td>" for c in columns)
            + "</tr>" for row in rows)
        path.write_text(
            f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
            "</body></html>\n", encoding="utf-8")
