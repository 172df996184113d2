"""CSV input as Excel and old runbooks write it; every problem named by file, line, column."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from toolkit.io.csvfile import Column, CsvFile, CsvInvalid


def right(text: str) -> str:
    if text.lower() not in ("fullaccess", "sendas"):
        raise ValueError(f"unknown right {text!r}")
    return text.lower()


COLUMNS = [
    Column("Mailbox"),
    Column("Trustee", aliases=("User",)),
    Column("Right", parse=right),
    Column("Count", required=False, parse=int, default=0),
]

ROWS = [["Mailbox", "Trustee", "Right"], ["sales@contoso.com", "adele@contoso.com", "FullAccess"],
        ["hr@contoso.com", "Vance, Adele", "SendAs"]]


def write(tmp_path: Path, data: bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def as_csv(rows: list[list[str]], delimiter: str) -> str:
    out = []
    for row in rows:
        out.append(delimiter.join(f'"{c}"' if delimiter in c or "," in c else c for c in row))
    return "\r\n".join(out) + "\r\n\r\n"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le"])
def test_excel_variants_read_the_same(tmp_path: Path, delimiter: str, encoding: str) -> None:
    data = as_csv(ROWS, delimiter).encode(encoding)
    rows = list(CsvFile(write(tmp_path, data), COLUMNS).rows())
    assert [(r.line, r["Mailbox"], r["Trustee"], r["Right"], r["Count"]) for r in rows] == [
        (2, "sales@contoso.com", "adele@contoso.com", "fullaccess", 0),
        (3, "hr@contoso.com", "Vance, Adele", "sendas", 0),
    ]


def test_header_case_spaces_and_aliases(tmp_path: Path) -> None:
    path = write(tmp_path, b" mailbox ,USER,right,count\nm@x.com,t@x.com,SendAs,3\n")
    (row,) = CsvFile(path, COLUMNS).rows()
    assert row.values == {"Mailbox": "m@x.com", "Trustee": "t@x.com", "Right": "sendas",
                          "Count": 3}


def test_every_problem_is_listed_with_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, b"Mailbox,Trustee,Right,Count\n"
                           b"a@x.com,b@x.com,FullAccess,1\n"
                           b"\n"
                           b"a@x.com,,Owner,x\n"
                           b'"multi\nline@x.com",b@x.com,Read,2\n')
    with pytest.raises(CsvInvalid) as info:
        CsvFile(path, COLUMNS).validate()
    found = [str(p) for p in info.value.problems]
    assert found == [
        f"{path}:4: Trustee: is empty",
        f"{path}:4: Right: unknown right 'Owner'",
        f"{path}:4: Count: invalid literal for int() with base 10: 'x'",
        f"{path}:5: Right: unknown right 'Read'",
    ]
    assert "nothing was changed" in info.value.message


def test_unknown_and_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path, b"Mailbox,Trustee,Colour\nm,t,blue\n")
    with pytest.raises(CsvInvalid) as info:
        CsvFile(path, COLUMNS).validate()
    assert [str(p) for p in info.value.problems] == [
        f"{path}:1: Colour: unknown column (expected: Mailbox, Trustee, Right, Count)",
        f"{path}:1: Right: required column is missing",
    ]


def test_empty_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(CsvInvalid, match="the file is empty"):
        CsvFile(write(tmp_path, b"\r\n\r\n"), COLUMNS).validate()
    with pytest.raises(Exception, match="not UTF-8 or UTF-16"):
        CsvFile(write(tmp_path, "Mailbox;Trustee;Right\nmé;t;SendAs\n".encode("cp1252"),
                      "ansi.csv"), COLUMNS).validate()


def test_too_many_fields_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, b"Mailbox,Trustee,Right\nm,t,SendAs,extra\n")
    with pytest.raises(CsvInvalid, match="4 fields but the header has 3"):
        CsvFile(path, COLUMNS).validate()


def test_hash_identifies_the_content(tmp_path: Path) -> None:
    a = CsvFile(write(tmp_path, codecs.BOM_UTF8 + b"Mailbox,Trustee,Right\n", "a.csv"), COLUMNS)
    b = CsvFile(write(tmp_path, b"Mailbox,Trustee,Right\n", "b.csv"), COLUMNS)
    assert a.sha256() != b.sha256() and len(a.sha256()) == 64


def test_a_decoding_error_late_in_the_file_names_its_own_line(tmp_path: Path) -> None:
    rows = b"".join(b"m%d,t,SendAs,1\n" % i for i in range(5000))
    path = write(tmp_path, b"Mailbox,Trustee,Right,Count\n" + rows + b"m\xe9,t,SendAs,1\n")
    with pytest.raises(CsvInvalid) as info:
        CsvFile(path, COLUMNS).validate()
    assert [p.line for p in info.value.problems] == [5002]


def test_a_runaway_line_is_refused_with_its_number_without_reading_it_whole(
        tmp_path: Path) -> None:
    from toolkit.io.csvfile import MAX_LINE_BYTES

    path = write(tmp_path, b"Mailbox,Trustee,Right,Count\nm,t,SendAs,1\n"
                 + b"x" * (MAX_LINE_BYTES + 10))
    with pytest.raises(CsvInvalid) as info:
        CsvFile(path, COLUMNS).validate()
    (problem,) = info.value.problems
    assert problem.line == 3 and "longer than 1024 KiB" in problem.message
