"""Permission reports: formats chosen by name, Excel-safe CSV, escaped self-contained HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from toolkit.core.errors import InputError
from toolkit.io.perm_reports import render_html
from toolkit.io.perm_reports import write_permission_report as write_report

COLUMNS = ["mailbox", "trustee", "right", "kind"]
ROWS = [{"mailbox": "sales@contoso.com", "trustee": "=HYPERLINK(\"x\")", "right": "FullAccess",
         "kind": "grant"},
        {"mailbox": "<script>alert(1)</script>@x.com", "trustee": "@b", "right": "SendAs",
         "kind": "orphan"}]
SUMMARY = {"snapshot": {"tenant": "contoso", "snapshot": 1, "mailboxes": 2},
           "rights": {"FullAccess": 1, "SendAs": 1}, "noise": {"self": 2}}


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"use a \.json, \.csv or \.html"):
        write_report(tmp_path / "r.xlsx", "t", SUMMARY, ROWS, COLUMNS)


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    write_report(tmp_path / "r.csv", "t", SUMMARY, ROWS, COLUMNS)
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ",'@b," in text


def test_html_escapes_values_and_fetches_nothing() -> None:
    page = render_html("Permissions <of> contoso", SUMMARY, ROWS, COLUMNS)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Permissions &lt;of&gt; contoso" in page
    assert "src=" not in page and "href=" not in page and "http" not in page
    assert page.count("<tr class=") == 2 and "<svg" in page


def test_a_diff_page_says_only_what_the_comparison_found() -> None:
    changes = [{"change": "added", "mailbox": "sales@contoso.com", "trustee": "a@contoso.com",
                "right": "FullAccess", "kind": "grant"},
               {"change": "added", "mailbox": "info@contoso.com", "trustee": "S-1-5-21-1-2-3",
                "right": "SendAs", "kind": "orphan"},
               {"change": "removed", "mailbox": "sales@contoso.com", "trustee": "b@contoso.com",
                "right": "FullAccess", "kind": "grant"}]
    summary = {"snapshot": {"tenant": "contoso", "snapshot": 5, "grants": 17, "orphans": 3},
               "tenant": "contoso", "compared": "snapshot 1 -> 5", "added": 2, "removed": 1}
    page = render_html("Permission drift of contoso: snapshot 1 -> 5", summary, changes,
                       ["change", *COLUMNS])
    cards = dict((label, int(value)) for value, label in
                 re.findall(r'<div class="card"><b>(\d+)</b>([^<]+)</div>', page))
    assert cards == {"added": 2, "removed": 1, "orphaned SIDs among them": 1,
                     "mailboxes affected": 2, "trustees affected": 3}
    for contradiction in ("No grants", "None found", "No earlier snapshot", "noise",
                          "17", "grants per right"):
        assert contradiction not in page, contradiction
    per_right = re.search(r"<h2>Changes per right</h2><table>.*?</table>", page)
    assert per_right is not None and "<td>FullAccess</td><td>1</td><td>1</td>" in per_right[0]


def test_every_table_of_a_page_is_sortable() -> None:
    page = render_html("Permissions", {**SUMMARY, "top_mailboxes": [
        {"mailbox": "sales@contoso.com", "delegates": 3}]}, ROWS, COLUMNS)
    assert page.count("<thead>") >= 2
    script = page.split("<script>", 1)[1]
    assert "querySelectorAll('table')" in script  # the small tables too, not only #grants
def test_an_incomplete_snapshot_is_marked_in_every_format(tmp_path: Path) -> None:
    incomplete = {**SUMMARY, "snapshot": {**SUMMARY["snapshot"], "status": "incomplete",
                                          "failed_mailboxes": 1}}
    assert "Incomplete snapshot" in render_html("t", incomplete, ROWS, COLUMNS)
    assert "Incomplete snapshot" not in render_html("t", SUMMARY, ROWS, COLUMNS)
    write_report(tmp_path / "r.json", "t", incomplete, iter(ROWS), COLUMNS)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["snapshot"]["status"] == "incomplete"
    assert report["rows"] == ROWS  # rows streamed from an iterator
