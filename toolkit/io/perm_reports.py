"""Permission audit and drift reports: what their JSON document and HTML page say.

:func:`write_permission_report` writes one through the shared writer
(:mod:`toolkit.io.reports`): JSON, Excel-safe CSV, or the self-contained HTML page of
:mod:`toolkit.io.report_html` with an inline SVG chart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.io.report_html import escape, html_page, small_table
from toolkit.io.reports import write_report


def write_permission_report(path: Path, title: str, summary: Mapping[str, Any],
                            rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` (and for JSON and HTML the summary) in the format the name says."""
    write_report(path, rows, columns, json=lambda table: _json_parts(summary, table),
                 html=lambda table: html_parts(title, summary, table, columns))


def _json_parts(summary: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]
                ) -> Iterator[str]:
    """One JSON document ``{"summary": ..., "rows": [...]}``, one row per line."""
    yield '{\n  "summary": ' + json.dumps(summary, indent=2, default=str).replace(
        "\n", "\n  ") + ',\n  "rows": ['
    separator = "\n    "
    for row in rows:
        yield separator + json.dumps(dict(row), default=str)
        separator = ",\n    "
    yield "\n  ]\n}\n"


def _bar_chart(counts: Mapping[str, int]) -> str:
    """Horizontal bars, one per right, as inline SVG."""
    if not counts:
        return "<p>No grants.</p>"
    widest = max(counts.values()) or 1
    bar_height, label_width, bar_width = 22, 150, 320
    parts = [f'<svg role="img" '
             f'aria-label="grants per right" width="{label_width + bar_width + 70}" '
             f'height="{bar_height * len(counts) + 4}">']
    for index, (right, count) in enumerate(counts.items()):
        y = index * bar_height + 2
        width = max(1, round(bar_width * count / widest))
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(right)}</text>'
                     f'<rect x="{label_width}" y="{y}" width="{width}" height="{bar_height - 6}"'
                     f' fill="#2f81f7"/><text x="{label_width + width + 6}" y="{y + 15}" '
                     f'font-size="12">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(title: str, summary: Mapping[str, Any], rows: Iterable[Mapping[str, Any]],
                columns: Sequence[str]) -> str:
    return "".join(html_parts(title, summary, rows, columns))


def html_parts(title: str, summary: Mapping[str, Any], rows: Iterable[Mapping[str, Any]],
               columns: Sequence[str]) -> Iterator[str]:
    """An audit's page, or a diff's (its summary has ``compared``), in pieces: the table's
    rows one at a time (see :func:`write_permission_report`)."""
    if "compared" in summary:
        yield from _drift_page(title, summary, list(rows), columns)
        return
    snap = summary.get("snapshot", {})
    noise = summary.get("noise", {})
    since = summary.get("since_previous")
    cards = [("mailboxes", snap.get("mailboxes", 0)), ("grants", snap.get("grants", 0)),
             ("orphaned SIDs", snap.get("orphans", 0)),
             ("unresolved", snap.get("unresolved", 0)),
             ("noise filtered", sum(int(v) for v in noise.values())),
             ("unreadable mailboxes", snap.get("failed_mailboxes", 0))]
    if since is not None:
        cards += [("added since previous", since["added"]),
                  ("removed since previous", since["removed"])]
    if since is None:
        changes = "<p>No earlier snapshot of this tenant to compare with.</p>"
    else:
        changes = (f"<p>Compared with snapshot {escape(since['previous_snapshot'])}.</p>"
                   + small_table(since["changes"], ["change", *columns],
                                  "No changes since the previous snapshot."))
    findings = [*summary.get("orphans", []), *summary.get("unresolved", [])]
    meta = (f"Tenant {escape(snap.get('tenant'))} · snapshot {escape(snap.get('snapshot'))} · "
            f"taken {escape(snap.get('taken'))} · scope {escape(snap.get('scope'))}")
    sections = f"""<div class="grid">
<div><h2>Grants per right</h2>{_bar_chart(summary.get("rights", {}))}</div>
<div><h2>Mailboxes with the most delegates</h2>{small_table(
        summary.get("top_mailboxes", []), ["mailbox", "delegates"], "None.")}</div>
<div><h2>Trustees with the widest access</h2>{small_table(
        summary.get("top_trustees", []), ["trustee", "mailboxes"], "None.")}</div>
</div>
<h2>Orphaned SIDs and unresolved delegates</h2>{small_table(
        findings, list(columns), "None found.")}
<h2>Noise filtered</h2>{small_table(
        [{"entry": k, "count": v} for k, v in noise.items()], ["entry", "count"], "None.")}
<h2>Mailboxes that could not be read</h2>{small_table(
        summary.get("failed_mailboxes", []), ["mailbox", "error", "message"], "None.")}
<h2>Changes since the previous snapshot</h2>{changes}"""
    if snap.get("status", "complete") != "complete":
        meta += (f'</p><p class="meta"><b>Incomplete snapshot</b>: '
                 f'{escape(snap.get("failed_mailboxes"))} mailbox(es) of its scope could not be '
                 "read (listed below); their rights are missing from this report.")
    yield from html_page(title, meta, cards, sections, rows, columns, "All entries",
                         shown=summary.get("rows", ""))


def _drift_page(title: str, summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
                columns: Sequence[str]) -> Iterator[str]:
    """A diff's page: only what the comparison found, counted from its own rows."""
    snap = summary.get("snapshot", {})
    added = [r for r in rows if r.get("change") == "added"]
    removed = [r for r in rows if r.get("change") == "removed"]
    cards = [("added", len(added)), ("removed", len(removed)),
             ("orphaned SIDs among them", sum(1 for r in rows if r.get("kind") == "orphan")),
             ("mailboxes affected", len({str(r.get("mailbox")).casefold() for r in rows})),
             ("trustees affected", len({str(r.get("trustee")).casefold() for r in rows}))]
    per_right = [{"right": right,
                  "added": sum(1 for r in added if r.get("right") == right),
                  "removed": sum(1 for r in removed if r.get("right") == right)}
                 for right in sorted({str(r.get("right")) for r in rows})]
    meta = (f"Tenant {escape(summary.get('tenant'))} · {escape(summary.get('compared'))} · newer "
            f"snapshot taken {escape(snap.get('taken'))}")
    sections = (f"<h2>Changes per right</h2>"
                f"{small_table(per_right, ['right', 'added', 'removed'], 'No changes.')}")
    yield from html_page(title, meta, cards, sections, rows, columns, "All changes",
                         shown=len(rows))


