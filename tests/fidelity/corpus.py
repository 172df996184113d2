"""The evidence corpus: records of what Microsoft's modules really emit, each with its source.

A record (``records/*.yaml``) holds the fields of one real error record or object, copied
from a public transcript or reference page (``source``), and optionally how to provoke the
same thing in the sandbox (``sandbox``). Values that differ from call to call (request ids,
dates, server names, quoted identities, the ``Ex......`` site code) are compared as shapes:
:func:`shape` turns the real value into a pattern the sandbox's value must match in full.
Anything else that varies is listed in the record's ``varies``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RECORDS = Path(__file__).parent / "records"
ERROR_FIELDS = ("FullyQualifiedErrorId", "Category", "Reason", "Activity", "ExceptionType",
                "Message")
OUTCOMES = ("throttled", "transient", "not_found", "already", "fatal")

# Parts of a real value that differ on every call, and the pattern each stands for.
_VARIABLE_PARTS: tuple[tuple[str, str], ...] = (
    (r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}",
     r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"),
    (r"\w{3}, \d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT",
     r"\w{3}, \d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"),
    (r"(?<=Server=)[A-Za-z0-9]+", r"[A-Za-z0-9]+"),
    (r"^Ex[0-9A-F]{6}(?=\|)", r"Ex[0-9A-F]{6}"),
    (r"(?<!\w)'[^'\n]*'(?!\w)", r"'[^'\n]*'"),
    (r'(?<!\w)"[^"\n]*"(?!\w)', r'"[^"\n]*"'),
)
# Graph PowerShell lists the HTTP response headers under the message; which headers a
# response carries differs, so only the layout ("Name<spaces>: value" lines) is compared.
_HEADERS = "\nHeaders:\n"
_HEADER_LINES = r"(?:[\w-]+ +: [^\n]*\n?)*"


@dataclass(frozen=True)
class Record:
    name: str
    source: str
    what: str
    fields: dict[str, str]
    outcome: str | None
    retry_after: float | None
    varies: tuple[str, ...]
    sandbox: dict[str, Any] | None
    properties: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()  # response headers the sandbox must send too
    assumed: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load() -> list[Record]:
    records = []
    for path in sorted(RECORDS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        records.append(Record(
            name=path.stem,
            source=str(data["source"]),
            what=str(data["what"]),
            fields={k: str(v) for k, v in (data.get("record") or {}).items()},
            outcome=data.get("expect"),
            retry_after=data.get("retry_after"),
            varies=tuple(data.get("varies") or ()),
            sandbox=data.get("sandbox"),
            properties=tuple(data.get("properties") or ()),
            headers=tuple(data.get("headers") or ()),
            assumed=data.get("assumed"),
        ))
    return records


def shape(real: str, varies: tuple[str, ...] = ()) -> re.Pattern[str]:
    """A pattern matching every value shaped like ``real`` (see the module docstring)."""
    head, has_headers, _ = real.partition(_HEADERS)
    parts = [re.escape(v) for v in sorted(varies, key=len, reverse=True)]
    token = re.compile("|".join([f"({p})" for p in parts]
                                + [f"({pattern})" for pattern, _ in _VARIABLE_PARTS]))
    out: list[str] = []
    position = 0
    for match in token.finditer(head):
        out.append(_literal(head[position:match.start()]))
        index = match.lastindex or 0
        out.append(".+?" if index <= len(parts) else _VARIABLE_PARTS[index - len(parts) - 1][1])
        position = match.end()
    out.append(_literal(head[position:]))
    if has_headers:
        out.append(r"\n+Headers:\n" + _HEADER_LINES)
    return re.compile("".join(out), re.DOTALL)


def _literal(text: str) -> str:
    """Text as it must appear, except that blank lines are layout: transcripts pasted into
    issues often lose them."""
    return r"\n+".join(re.escape(line) for line in re.split(r"\n+", text))
