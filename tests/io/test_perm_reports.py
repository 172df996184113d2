"""Permission reports: formats chosen by name, Excel-safe CSV, escaped self-contained HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.core.errors import InputError
from toolkit.io.perm_reports import render_html, write_report

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


def test_an_incomplete_snapshot_is_marked_in_every_format(tmp_path: Path) -> None:
    incomplete = {**SUMMARY, "snapshot": {**SUMMARY["snapshot"], "status": "incomplete",
                                          "failed_mailboxes": 1}}
    assert "Incomplete snapshot" in render_html("t", incomplete, ROWS, COLUMNS)
    assert "Incomplete snapshot" not in render_html("t", SUMMARY, ROWS, COLUMNS)
    write_report(tmp_path / "r.json", "t", incomplete, iter(ROWS), COLUMNS)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["snapshot"]["status"] == "incomplete"
    assert report["rows"] == ROWS  # rows streamed from an iterator
