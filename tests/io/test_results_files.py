"""``--results FILE``: the file's name says its format (issue 15, item 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.core.errors import InputError
from toolkit.core.runner import RowResult
from toolkit.io.results import ResultsWriter

RESULTS = [RowResult(1, "changed", "sales@contoso.com", fields={"Mailbox": "sales@contoso.com"}),
           RowResult(2, "failed", "=cmd|' /C calc'!A0", "no such mailbox", "NotFound")]


def _write(path: Path, batches: list[list[RowResult]]) -> str:
    with ResultsWriter(path) as writer:
        for batch in batches:
            writer.write(batch)
    return path.read_text(encoding="utf-8")


def test_json_is_one_array_and_jsonl_one_object_per_line(tmp_path: Path) -> None:
    as_json = json.loads(_write(tmp_path / "out.json", [RESULTS[:1], RESULTS[1:]]))
    assert [r["status"] for r in as_json] == ["changed", "failed"]
    assert as_json[0]["Mailbox"] == "sales@contoso.com"
    lines = _write(tmp_path / "out.jsonl", [RESULTS]).splitlines()
    assert [json.loads(line)["row"] for line in lines] == [1, 2]
    assert json.loads(_write(tmp_path / "empty.json", [])) == []


def test_a_job_that_fails_half_way_still_leaves_valid_json(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    with pytest.raises(KeyboardInterrupt), ResultsWriter(path) as writer:
        writer.write(RESULTS[:1])
        raise KeyboardInterrupt
    assert len(json.loads(path.read_text())) == 1


def test_csv_neutralises_formulas_and_other_names_are_refused(tmp_path: Path) -> None:
    text = _write(tmp_path / "out.csv", [RESULTS])
    assert text.splitlines()[0] == "row,key,status,message,error_id"
    assert "'=cmd" in text
    with pytest.raises(InputError, match=r"\.csv, \.json or \.jsonl"):
        ResultsWriter(tmp_path / "out.txt")
