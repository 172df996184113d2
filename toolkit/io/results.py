"""Per-row results files (``--results FILE``): CSV, JSON or JSON Lines, written as rows arrive.

``.json`` is one JSON array (closed when the job ends, even when it fails or is
interrupted); ``.jsonl`` is one JSON object per line, for tools that read as rows arrive.
Each record holds the row's number, the fields that name it, each on its own (a
permission's mailbox, right and trustee; a user's UPN; a batch's name), and its outcome.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar

from toolkit.core.errors import InputError
from toolkit.core.runner import RowResult

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: Any) -> Any:
    """Neutralise a cell Excel would run as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def record(result: RowResult) -> dict[str, Any]:
    """A row's record: its number, the fields that name it, and its outcome."""
    return {"row": result.row, **result.keys, "status": result.status,
            "message": result.message, "error_id": result.error_id}


class ResultsWriter:
    """Streams :class:`RowResult` to a ``.csv``, ``.json`` (an array) or ``.jsonl`` file.

    A command that runs its job in phases (activation's mailbox wait) opens the file once
    per phase: the first opening in this process starts the file, later ones append (a JSON
    array is reopened before its closing bracket), so no phase's rows are lost. A CSV's
    header is written with its first row, whose naming fields it lists.
    """

    _started: ClassVar[set[Path]] = set()  # files this process has already started

    def __init__(self, path: Path):
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".json", ".jsonl"):
            raise InputError(f"--results {path}: use a .csv, .json or .jsonl file name")
        self.path = path
        self.kind = suffix.lstrip(".")
        self._handle: IO[str] | None = None
        self._csv: Any = None
        self._written = 0
        self._header_due = False

    def __enter__(self) -> ResultsWriter:
        key = self.path.resolve()
        appending = key in ResultsWriter._started
        ResultsWriter._started.add(key)
        self._handle = open(self.path, "a" if appending else "w", encoding="utf-8",
                            newline="")
        if self.kind == "csv":
            self._csv = csv.writer(self._handle)
            self._header_due = self._handle.tell() == 0
        elif self.kind == "json":
            if appending:
                self._reopen_array()
            else:
                self._handle.write("[")
        return self

    def _reopen_array(self) -> None:
        """Continue the array an earlier phase closed: drop its closing bracket."""
        assert self._handle is not None
        self._handle.close()
        text = self.path.read_text(encoding="utf-8").rstrip()
        body = text.removesuffix("]").rstrip()
        self._written = 0 if body.endswith("[") else 1
        self._handle = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in __exit__
        self._handle.write(body)

    def write(self, results: list[RowResult]) -> None:
        assert self._handle is not None
        for result in results:
            fields = record(result)
            if self.kind == "csv":
                if self._header_due:
                    self._csv.writerow(fields)
                    self._header_due = False
                self._csv.writerow([excel_safe(value) for value in fields.values()])
                continue
            line = json.dumps({**fields, **dict(result.fields)}, default=str)
            if self.kind == "json":
                line = ("," if self._written else "") + "\n  " + line
            else:
                line += "\n"
            self._handle.write(line)
            self._written += 1
        self._handle.flush()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._handle is not None:
            if self.kind == "json":
                self._handle.write("\n]\n")
            self._handle.close()
