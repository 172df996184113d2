"""``--results FILE``: the file's name says its format (issue 15, item 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.core.errors import InputError
from toolkit.core.runner import RowResult
from toolkit.io.results import ResultsWriter

PERMISSION = {"mailbox": "sales@contoso.com", "right": "SendAs",
              "trustee": "megan.bowen@contoso.com"}
RESULTS = [RowResult(1, "changed", "sales@contoso.com SendAs megan.bowen@contoso.com",
                     fields={"Op": "grant"}, keys=PERMISSION),
           RowResult(2, "failed", "=cmd|' /C calc'!A0 SendAs megan.bowen@contoso.com",
                     "no such mailbox", "NotFound",
                     keys={**PERMISSION, "mailbox": "=cmd|' /C calc'!A0"})]


def _write(path: Path, batches: list[list[RowResult]]) -> str:
    with ResultsWriter(path) as writer:
        for batch in batches:
            writer.write(batch)
    return path.read_text(encoding="utf-8")


def test_json_is_one_array_and_jsonl_one_object_per_line(tmp_path: Path) -> None:
    as_json = json.loads(_write(tmp_path / "out.json", [RESULTS[:1], RESULTS[1:]]))
    assert [r["status"] for r in as_json] == ["changed", "failed"]
    assert as_json[0] == {"row": 1, **PERMISSION, "status": "changed", "message": None,
                          "error_id": None, "Op": "grant"}
    lines = _write(tmp_path / "out.jsonl", [RESULTS]).splitlines()
    assert [json.loads(line)["row"] for line in lines] == [1, 2]
    assert json.loads(lines[1])["mailbox"] == "=cmd|' /C calc'!A0"
    assert json.loads(_write(tmp_path / "empty.json", [])) == []


def test_a_job_that_fails_half_way_still_leaves_valid_json(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    with pytest.raises(KeyboardInterrupt), ResultsWriter(path) as writer:
        writer.write(RESULTS[:1])
        raise KeyboardInterrupt
    assert len(json.loads(path.read_text())) == 1


def test_csv_neutralises_formulas_and_other_names_are_refused(tmp_path: Path) -> None:
    text = _write(tmp_path / "out.csv", [RESULTS])
    header, first, second = text.splitlines()
    assert header == "row,mailbox,right,trustee,status,message,error_id"
    assert first == "1,sales@contoso.com,SendAs,megan.bowen@contoso.com,changed,,"
    assert second.startswith("2,'=cmd")
    with pytest.raises(InputError, match=r"\.csv, \.json or \.jsonl"):
        ResultsWriter(tmp_path / "out.txt")


def test_a_later_phase_appends_rows_under_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    _write(path, [])  # a phase with nothing to report: no header yet
    _write(path, [RESULTS[:1]])
    text = _write(path, [RESULTS[1:]])
    assert [line.split(",")[0] for line in text.splitlines()] == ["row", "1", "2"]
