"""The self-contained HTML page every report shares, and its small summary tables.

The page has no external assets (no stylesheet, script, font or image is fetched: CSS,
JavaScript and any chart are inline), so it can be mailed or archived as is. Every value is
HTML-escaped; every table is sortable (click a header) and the main one filterable (type in
the box) with a few lines of inline JavaScript, and readable without it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from toolkit.io.plain_text import visible

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


def escape(value: Any) -> str:
    """A value as HTML text (None as nothing), quotes escaped too, and control, bidi and
    invisible characters shown as escapes (``\\u202e``): a tenant's text cannot reorder
    or hide what the report says."""
    return html.escape(visible("" if value is None else str(value)), quote=True)


def small_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                 empty: str) -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(title: str, meta: str, cards: Sequence[tuple[str, Any]], sections: str,
              rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
              table_title: str, *, shown: Any = "") -> Iterator[str]:
    """One self-contained page in pieces: title, meta line (HTML), cards, summary sections
    (HTML), then every row (one piece each) in a table that sorts and filters. Timestamps
    (ISO 8601) are shown in the reader's local time. ``shown``: the number of rows."""
    card_html = "".join(f'<div class="card"><b>{escape(v)}</b>{escape(k)}</div>' for k, v in cards)
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    yield f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="meta">{meta}</p>
<section id="summary"><h2>Summary</h2><div class="cards">{card_html}</div>
{sections}
</section>
<section><h2>{escape(table_title)} (<span id="shown">{escape(shown)}</span> shown)</h2>
<input id="filter" type="search" placeholder="Filter: mailbox, trustee, right..."
 aria-label="filter the table">
<table id="grants"><thead><tr>{head}</tr></thead><tbody>"""
    for row in rows:
        yield (f'<tr class="{escape(row.get("change") or row.get("kind"))}">'
               + "".join(f"<td>{escape(row.get(c))}</td>" for c in columns) + "</tr>")
    yield f"""</tbody></table></section>
<script>{_JS}</script>
</body></html>
"""
