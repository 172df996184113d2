"""Permission audit reports: JSON, Excel-safe CSV, and one self-contained HTML page.

The HTML page has no external assets (no stylesheet, script, font or image is fetched:
CSS, JavaScript and the SVG chart are inline), so it can be mailed or archived as is. Every
value is HTML-escaped; the table is sortable (click a header) and filterable (type in the
box) with a few lines of inline JavaScript, and readable without it.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.core.errors import InputError
from toolkit.io.results import excel_safe

FORMATS = (".json", ".csv", ".html")


def report_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".htm":
        suffix = ".html"
    if suffix not in FORMATS:
        raise InputError(f"--out {path}: use a .json, .csv or .html file name")
    return suffix


def write_report(path: Path, title: str, summary: Mapping[str, Any],
                 rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` (and for JSON and HTML the summary) in the format the name says.

    Rows are written as they come: a whole tenant's rows (an iterator over the snapshot)
    are never held in memory, neither as objects nor as one big string.
    """
    kind = report_format(path)
    if kind == ".csv":
        write_csv(path, rows, columns)
        return
    with open(path, "w", encoding="utf-8") as handle:
        parts = (_json_parts(summary, rows) if kind == ".json"
                 else html_parts(title, summary, rows, columns))
        for part in parts:
            handle.write(part)


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


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """UTF-8 with a BOM (Excel then reads the accents right), formulas neutralised."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([excel_safe("" if row.get(c) is None else str(row.get(c)))
                             for c in columns])


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#57606a}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:22px}.grid{display:flex;flex-wrap:wrap;gap:32px}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #d0d7de;
padding:4px 10px;text-align:left}th{background:#f6f8fa;cursor:pointer;user-select:none}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
tr.orphan td,tr.unresolved td{background:#fff8c5}tr.added td{background:#dafbe1}
tr.removed td{background:#ffebe9}input{padding:6px;width:320px;margin:8px 0}
"""

_JS = """
(function(){
  function sortable(table){
    var body=table.tBodies[0],heads=table.tHead.rows[0].cells;
    for(var c=0;c<heads.length;c++)(function(col){heads[col].addEventListener('click',function(){
      var asc=!this.classList.contains('sorted-asc');
      for(var h=0;h<heads.length;h++)heads[h].className='';
      this.className=asc?'sorted-asc':'sorted-desc';
      var rows=Array.prototype.slice.call(body.rows);
      function key(r){var cell=r.cells[col];
        return cell.getAttribute('data-sort')||cell.textContent;}
      rows.sort(function(a,b){var x=key(a),y=key(b),
        nx=parseFloat(x),ny=parseFloat(y);
        if(!isNaN(nx)&&!isNaN(ny)&&String(nx)===x&&String(ny)===y){x=nx;y=ny;}
        return (x<y?-1:x>y?1:0)*(asc?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});});})(c);
  }
  var cells=document.querySelectorAll('td'),iso=/^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d/;
  for(var i=0;i<cells.length;i++){var text=cells[i].textContent,when=new Date(text);
    if(iso.test(text)&&!isNaN(when)){cells[i].setAttribute('data-sort',text);
      cells[i].title=text;cells[i].textContent=when.toLocaleString();}}
  var tables=document.querySelectorAll('table');
  for(var t=0;t<tables.length;t++)sortable(tables[t]);
  var table=document.getElementById('grants');if(!table)return;
  var body=table.tBodies[0],filter=document.getElementById('filter'),
      count=document.getElementById('shown');
  function apply(){var q=filter.value.toLowerCase(),n=0;
    for(var i=0;i<body.rows.length;i++){var r=body.rows[i],
      hit=r.textContent.toLowerCase().indexOf(q)>=0;
      r.style.display=hit?'':'none';if(hit)n++;}count.textContent=n;}
  filter.addEventListener('input',apply);
  apply();
})();
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


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
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{_e(right)}</text>'
                     f'<rect x="{label_width}" y="{y}" width="{width}" height="{bar_height - 6}"'
                     f' fill="#2f81f7"/><text x="{label_width + width + 6}" y="{y + 15}" '
                     f'font-size="12">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def small_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                 empty: str) -> str:
    if not rows:
        return f"<p>{_e(empty)}</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(title: str, summary: Mapping[str, Any], rows: Iterable[Mapping[str, Any]],
                columns: Sequence[str]) -> str:
    return "".join(html_parts(title, summary, rows, columns))


def html_parts(title: str, summary: Mapping[str, Any], rows: Iterable[Mapping[str, Any]],
               columns: Sequence[str]) -> Iterator[str]:
    """An audit's page, or a diff's (its summary has ``compared``), in pieces: the table's
    rows one at a time (see :func:`write_report`)."""
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
        changes = (f"<p>Compared with snapshot {_e(since['previous_snapshot'])}.</p>"
                   + small_table(since["changes"], ["change", *columns],
                                  "No changes since the previous snapshot."))
    findings = [*summary.get("orphans", []), *summary.get("unresolved", [])]
    meta = (f"Tenant {_e(snap.get('tenant'))} · snapshot {_e(snap.get('snapshot'))} · "
            f"taken {_e(snap.get('taken'))} · scope {_e(snap.get('scope'))}")
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
                 f'{_e(snap.get("failed_mailboxes"))} mailbox(es) of its scope could not be '
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
    meta = (f"Tenant {_e(summary.get('tenant'))} · {_e(summary.get('compared'))} · newer "
            f"snapshot taken {_e(snap.get('taken'))}")
    sections = (f"<h2>Changes per right</h2>"
                f"{small_table(per_right, ['right', 'added', 'removed'], 'No changes.')}")
    yield from html_page(title, meta, cards, sections, rows, columns, "All changes",
                         shown=len(rows))


def html_page(title: str, meta: str, cards: Sequence[tuple[str, Any]], sections: str,
              rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
              table_title: str, *, shown: Any = "") -> Iterator[str]:
    """One self-contained page in pieces: title, meta line (HTML), cards, summary sections
    (HTML), then every row (one piece each) in a table that sorts and filters. Timestamps
    (ISO 8601) are shown in the reader's local time. ``shown``: the number of rows."""
    card_html = "".join(f'<div class="card"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in cards)
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    yield f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">{meta}</p>
<section id="summary"><h2>Summary</h2><div class="cards">{card_html}</div>
{sections}
</section>
<section><h2>{_e(table_title)} (<span id="shown">{_e(shown)}</span> shown)</h2>
<input id="filter" type="search" placeholder="Filter: mailbox, trustee, right..."
 aria-label="filter the table">
<table id="grants"><thead><tr>{head}</tr></thead><tbody>"""
    for row in rows:
        yield (f'<tr class="{_e(row.get("change") or row.get("kind"))}">'
               + "".join(f"<td>{_e(row.get(c))}</td>" for c in columns) + "</tr>")
    yield f"""</tbody></table></section>
<script>{_JS}</script>
</body></html>
"""
