"""Per-row results files (``--results FILE``): CSV or JSON Lines, written as rows arrive."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar

from toolkit.core.errors import InputError
from toolkit.core.runner import RowResult

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("row", "key", "status", "message", "error_id")


def excel_safe(value: Any) -> Any:
    """Neutralise a cell Excel would run as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class ResultsWriter:
    """Streams :class:`RowResult` to a ``.csv`` or ``.json``/``.jsonl`` file.

    A command that runs its job in phases (activation's mailbox wait) opens the file once
    per phase: the first opening in this process starts the file, later ones append, so
    no phase's rows are lost.
    """

    _started: ClassVar[set[Path]] = set()  # files this process has already started

    def __init__(self, path: Path):
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".json", ".jsonl"):
            raise InputError(f"--results {path}: use a .csv, .json or .jsonl file name")
        self.path = path
        self.kind = "csv" if suffix == ".csv" else "json"
        self._handle: IO[str] | None = None
        self._csv: Any = None

    def __enter__(self) -> ResultsWriter:
        key = self.path.resolve()
        appending = key in ResultsWriter._started
        ResultsWriter._started.add(key)
        self._handle = open(self.path, "a" if appending else "w", encoding="utf-8",
                            newline="")
        if self.kind == "csv":
            self._csv = csv.writer(self._handle)
            if not appending:
                self._csv.writerow(COLUMNS)
        return self

    def write(self, results: list[RowResult]) -> None:
        assert self._handle is not None
        for result in results:
            record = {"row": result.row, "key": result.key, "status": result.status,
                      "message": result.message, "error_id": result.error_id}
            if self.kind == "csv":
                self._csv.writerow([excel_safe(record[c]) for c in COLUMNS])
            else:
                self._handle.write(json.dumps({**record, **dict(result.fields)}, default=str)
                                   + "\n")
        self._handle.flush()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._handle is not None:
            self._handle.close()
