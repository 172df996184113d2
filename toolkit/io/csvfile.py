"""Tolerant-but-strict CSV input, shared by every bulk command.

Tolerant of what Excel and old runbooks produce: UTF-8 with or without BOM, UTF-16
(Excel's "Unicode text"), comma, semicolon (European Excel) or tab delimiters, quoted
fields, header case and surrounding spaces, blank lines. Strict about everything else:
unknown or missing columns and every bad value are reported together, each with its file,
line and column, before anything runs.

Files are read as a stream (twice: once to validate, once to run), so a 100,000-row CSV
never sits in memory. Memory stays bounded on hostile files too: lines are read at most
:data:`MAX_LINE_BYTES` at a time (a longer line is refused with its line number), and each
line is decoded on its own, so a decoding error names its own line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from toolkit.core.errors import InputError

DELIMITERS = (",", ";", "\t")
MAX_PROBLEMS_SHOWN = 50
MAX_LINE_BYTES = 1 << 20  # 1 MiB: far above any real row, far below a runaway "line"


class _LineTooLong(Exception):
    pass


@dataclass(frozen=True)
class Column:
    """One expected column. ``parse`` turns the cell text into a value or raises ValueError
    with a message for the user; it is not called for an empty optional cell."""

    name: str
    required: bool = True
    aliases: tuple[str, ...] = ()
    parse: Callable[[str], Any] = str
    default: Any = None
    nullable: bool = False  # a required column whose cells may be empty
    strip: bool = True  # False: the cell is taken exactly as written (a password)


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        column = f" {self.column}:" if self.column else ""
        return f"{self.path}:{self.line}:{column} {self.message}"


class CsvInvalid(InputError):
    """The file has problems; nothing was changed. ``problems`` lists every one."""

    def __init__(self, path: str, problems: Sequence[Problem]):
        shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{path}: {len(problems)} problem(s), nothing was changed:\n{shown}{tail}",
            hint="Fix the lines listed and run the command again.",
        )
        self.problems = list(problems)


@dataclass
class Row:
    """A validated row: its 1-based line number in the file and its typed values."""

    line: int
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without BOM: every other byte of ASCII text is NUL.
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == 0 and head[2] == 0 and head[1] != 0:
        return "utf-16-be"
    return "utf-8"


def _detect_delimiter(header_line: str) -> str:
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class CsvFile:
    """A CSV file read against a schema of :class:`Column`."""

    def __init__(self, path: str | Path, columns: Sequence[Column], *,
                 allow_extra: bool = False):
        self.path = Path(path)
        self.columns = list(columns)
        self.allow_extra = allow_extra
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(4096)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror}") from None
        self.encoding = _detect_encoding(head)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def _lines(self, raw: IO[bytes], counter: list[int]) -> Iterator[str]:
        """The file's text lines, each decoded on its own and at most MAX_LINE_BYTES long;
        ``counter[0]`` is the number of the last line read."""
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        pending = ""
        while True:
            chunk = raw.readline(MAX_LINE_BYTES + 1)
            if len(chunk) > MAX_LINE_BYTES:
                raise _LineTooLong
            pending += decoder.decode(chunk, final=not chunk)
            while "\n" in pending:  # UTF-16's two-byte newline may end in the next chunk
                line, pending = pending.split("\n", 1)
                counter[0] += 1
                yield line + "\n"
            if not chunk:
                if pending:
                    counter[0] += 1
                    yield pending
                return

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of each non-blank record, the header first."""
        path = str(self.path)
        counter = [0]
        with open(self.path, "rb") as raw:
            lines = self._lines(raw, counter)
            try:
                first = next(lines, "")
                delimiter = _detect_delimiter(first)
                reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter,
                                    strict=True)
                start = 1
                for fields in reader:
                    if any(cell.strip() for cell in fields):
                        yield start, fields
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise CsvInvalid(path, [Problem(path, counter[0], None,
                                                f"malformed CSV: {exc}")]) from None
            except UnicodeDecodeError:
                if counter[0] == 0:
                    raise InputError(
                        f"{path}: not UTF-8 or UTF-16 text",
                        hint="In Excel, save as 'CSV UTF-8' or 'Unicode Text'.",
                    ) from None
                raise CsvInvalid(path, [Problem(
                    path, counter[0] + 1, None,
                    f"not valid {self.encoding} text: the file is not UTF-8 or UTF-16 (in "
                    "Excel, save as 'CSV UTF-8')")]) from None
            except _LineTooLong:
                raise CsvInvalid(path, [Problem(
                    path, counter[0] + 1, None,
                    f"line longer than {MAX_LINE_BYTES // 1024} KiB: not a CSV this "
                    "command can take")]) from None

    def header(self) -> list[str]:
        """The header's column titles as written (empty for an empty file)."""
        for _, fields in self._records():  # the generator closes the file when dropped
            return [title.strip() for title in fields]
        return []

    def _header_map(self, line: int, header: list[str]) -> tuple[dict[int, Column],
                                                                 list[Problem]]:
        path = str(self.path)
        lookup: dict[str, Column] = {}
        for expected in self.columns:
            for spelling in (expected.name, *expected.aliases):
                lookup[spelling.strip().lower()] = expected
        mapping: dict[int, Column] = {}
        problems: list[Problem] = []
        seen: set[str] = set()
        for index, title in enumerate(header):
            column = lookup.get(title.strip().lower())
            if column is None:
                if not self.allow_extra and title.strip():
                    known = ", ".join(c.name for c in self.columns)
                    problems.append(Problem(path, line, title.strip(),
                                            f"unknown column (expected: {known})"))
                continue
            if column.name in seen:
                problems.append(Problem(path, line, title.strip(), "column appears twice"))
                continue
            seen.add(column.name)
            mapping[index] = column
        for expected in self.columns:
            if expected.required and expected.name not in seen:
                problems.append(Problem(path, line, expected.name, "required column is missing"))
        return mapping, problems

    def _parse(self) -> Iterator[Row | Problem]:
        path = str(self.path)
        records = self._records()
        first = next(records, None)
        if first is None:
            yield Problem(path, 1, None, "the file is empty (a header line is required)")
            return
        header_line, header = first
        mapping, problems = self._header_map(header_line, header)
        if problems:
            yield from problems
            return
        for line, fields in records:
            if len(fields) > len(header) and any(f.strip() for f in fields[len(header):]):
                yield Problem(path, line, None,
                              f"{len(fields)} fields but the header has {len(header)}")
                continue
            values: dict[str, Any] = {}
            bad = False
            for index, column in mapping.items():
                written = fields[index] if index < len(fields) else ""
                cell = written.strip() if column.strip or not written.strip() else written
                if not cell:
                    if column.required and not column.nullable:
                        yield Problem(path, line, column.name, "is empty")
                        bad = True
                    values[column.name] = column.default
                    continue
                try:
                    values[column.name] = column.parse(cell)
                except ValueError as exc:
                    yield Problem(path, line, column.name, str(exc))
                    bad = True
            for column in self.columns:
                values.setdefault(column.name, column.default)
            if not bad:
                yield Row(line, values)

    def problems(self) -> list[Problem]:
        """Every problem in the file (header and rows), in one streaming pass."""
        return self.check()[0]

    def check(self) -> tuple[list[Problem], int]:
        """Every problem in the file, and how many rows it has, in one streaming pass."""
        problems: list[Problem] = []
        rows = 0
        for item in self._parse():
            if isinstance(item, Problem):
                problems.append(item)
            else:
                rows += 1
        return problems, rows

    def rows(self) -> Iterator[Row]:
        """The rows, typed; raises CsvInvalid at the first problem (validate first)."""
        for item in self._parse():
            if isinstance(item, Problem):
                raise CsvInvalid(str(self.path), [item])
            yield item

    def validate(self) -> int:
        """Raise CsvInvalid listing every problem; else return the number of rows."""
        found, rows = self.check()
        if found:
            raise CsvInvalid(str(self.path), found)
        return rows
