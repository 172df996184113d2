"""What a permission change request looks like: one row, from a CSV or from the command line.

The bulk CSV has the columns ``Mailbox,Trustee,Right,Action`` and optionally
``AutoMapping``. Right is FullAccess, SendAs or SendOnBehalf (any case); the BPOS-era
words of ``Add-MSOnlineMailPermission`` / ``Remove-MSOnlineMailPermission``
(GrantFullAccess, RemoveSendAs, ...) are accepted too and imply the action. Action is
grant or revoke, grant when empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.core.errors import InputError
from toolkit.core.sids import is_orphan_sid
from toolkit.io.csvfile import Column, CsvFile, CsvInvalid, Problem

RIGHTS = ("FullAccess", "SendAs", "SendOnBehalf")
ACTIONS = ("grant", "revoke")
# Legacy word -> (right, action).
LEGACY_RIGHTS: dict[str, tuple[str, str]] = {
    "grantfullaccess": ("FullAccess", "grant"),
    "grantsendas": ("SendAs", "grant"),
    "grantsendonbehalfof": ("SendOnBehalf", "grant"),
    "removefullaccess": ("FullAccess", "revoke"),
    "removesendas": ("SendAs", "revoke"),
    "removesendonbehalfof": ("SendOnBehalf", "revoke"),
}
_RIGHT_WORDS: dict[str, tuple[str, str | None]] = {
    **{r.lower(): (r, None) for r in RIGHTS},
    "sendonbehalfof": ("SendOnBehalf", None),
    **LEGACY_RIGHTS,
}
_ACTION_WORDS = {"grant": "grant", "add": "grant", "revoke": "revoke", "remove": "revoke"}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_ADDRESS = re.compile(r"^[^@\s,;<>\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class PermRow:
    """One requested change. ``line`` numbers the row (the CSV line, or 1.. for options).

    ``automapping`` is None when the request does not care (Exchange's default, on, for a
    new FullAccess grant; an existing grant is left as it is).
    """

    line: int
    mailbox: str
    trustee: str
    right: str
    action: str
    automapping: bool | None = None

    @property
    def key(self) -> str:
        """A short label for people: ``sales@contoso.com FullAccess adele@contoso.com``."""
        return f"{self.mailbox} {self.right} {self.trustee}"

    @property
    def keys(self) -> dict[str, str]:
        """The fields that name the row, each its own column in results files."""
        return {"mailbox": self.mailbox, "right": self.right, "trustee": self.trustee}

    def identity(self) -> tuple[str, str, str]:
        return (self.mailbox.casefold(), self.trustee.casefold(), self.right)

    def to_json(self) -> list[Any]:
        return [self.line, self.mailbox, self.trustee, self.right, self.action,
                self.automapping]

    @classmethod
    def from_json(cls, item: Sequence[Any]) -> PermRow:
        line, mailbox, trustee, right, action, automapping = item
        return cls(int(line), str(mailbox), str(trustee), str(right), str(action),
                   None if automapping is None else bool(automapping))


def parse_address(text: str) -> str:
    if not _ADDRESS.match(text):
        raise ValueError(f"{text!r} is not an email address (user@domain)")
    return text


def parse_trustee(text: str) -> str:
    """An address, or an orphaned SID (which can only be revoked)."""
    if is_orphan_sid(text):
        return text.upper()
    if not _ADDRESS.match(text):
        raise ValueError(f"{text!r} is not an email address (user@domain) or an orphaned "
                         "SID (S-1-5-21-...)")
    return text


def parse_right(text: str) -> tuple[str, str | None]:
    """A right word -> (right, action implied by a legacy word or None)."""
    found = _RIGHT_WORDS.get(text.replace(" ", "").lower())
    if found is None:
        legacy = ", ".join(w for w in ("GrantFullAccess", "GrantSendAs", "GrantSendOnBehalfOf",
                                       "RemoveFullAccess", "RemoveSendAs",
                                       "RemoveSendOnBehalfOf"))
        raise ValueError(f"unknown right {text!r} (expected {', '.join(RIGHTS)}, or one of "
                         f"{legacy})")
    return found


def parse_action(text: str) -> str:
    found = _ACTION_WORDS.get(text.lower())
    if found is None:
        raise ValueError(f"unknown action {text!r} (expected grant or revoke)")
    return found


def parse_bool(text: str) -> bool:
    found = _BOOLEANS.get(text.lower())
    if found is None:
        raise ValueError(f"{text!r} is not true or false")
    return found


# (name, required, aliases, parser)
COLUMNS: tuple[tuple[str, bool, tuple[str, ...], Callable[[str], Any]], ...] = (
    ("Mailbox", True, ("Identity", "MailboxIdentity"), parse_address),
    ("Trustee", True, ("User", "TrustedUser", "Delegate"), parse_trustee),
    ("Right", True, ("AccessRights", "Permission", "Rights"), parse_right),
    ("Action", False, (), parse_action),
    ("AutoMapping", False, (), parse_bool),
)


class PermissionCsv:
    """The bulk CSV: validated as a whole (every problem listed), then read into rows.

    The reader takes the cells as text; they are parsed here, so that problems inside
    one row (a legacy word contradicting Action) and between rows (conflicting
    duplicates) are listed together with the bad cells.
    """

    def __init__(self, path: Path):
        self.path = path
        self.source = CsvFile(path, [Column(name, required=required, aliases=aliases,
                                            nullable=True)
                                     for name, required, aliases, _ in COLUMNS])

    def sha256(self) -> str:
        return self.source.sha256()

    def read(self) -> list[PermRow]:
        """Every row, or CsvInvalid listing every problem (nothing is sent before this)."""
        self.validate()
        return list(self.rows())

    def validate(self) -> None:
        """CsvInvalid listing every problem of the file; no row is kept (only the first
        row of each grant, to find conflicts), so memory does not grow with the file."""
        path = str(self.path)
        problems, _ = self.source.check()
        problems.extend(conflicts(path, self._parsed(problems)))
        if problems:
            unique = {(p.line, p.column, p.message): p for p in problems}
            raise CsvInvalid(path, sorted(unique.values(), key=lambda p: p.line))

    def rows(self) -> Iterator[PermRow]:
        """The rows of a file :meth:`validate` found valid, read again as they are used."""
        return self._parsed([])

    def _parsed(self, problems: list[Problem]) -> Iterator[PermRow]:
        """Each row parsed; a row's problems go to ``problems`` instead."""
        path = str(self.path)
        try:
            for row in self.source.rows():
                found = _row(path, row.line, row.values)
                if isinstance(found, PermRow):
                    yield found
                else:
                    problems.extend(found)
        except CsvInvalid:
            pass  # a broken header or record: check() has listed it already


def rows_from(cells: Iterable[Mapping[str, Any]], source: str = "rows") -> list[PermRow]:
    """Rows given as mappings with the CSV's columns (``{"Mailbox": ..., "Right": ...}``),
    checked like a file: CsvInvalid lists every problem by row number (1 = the first)."""
    rows: list[PermRow] = []
    problems: list[Problem] = []
    for line, row in enumerate(cells, start=1):
        found = _row(source, line, {k: "" if v is None else str(v) for k, v in row.items()})
        if isinstance(found, PermRow):
            rows.append(found)
        else:
            problems.extend(found)
    problems.extend(conflicts(source, rows))
    if problems:
        raise CsvInvalid(source, problems)
    return rows


def single_rows(mailbox: str, trustee: str, rights: Iterable[str], action: str,
                automapping: bool | None = None) -> list[PermRow]:
    """The rows of one grant or revoke (``perms grant MAILBOX TRUSTEE --right R...``).

    Errors name the command line's arguments (MAILBOX, TRUSTEE, --right).
    """
    mailbox = parse_argument(parse_address, mailbox, "MAILBOX")
    trustee = parse_argument(parse_trustee, trustee, "TRUSTEE")
    wanted = list(dict.fromkeys(_right_for(r, action) for r in rights))
    if not wanted:
        raise InputError("name at least one right (--right)")
    for right in wanted:
        problem = orphan_problem(trustee, right, action)
        if problem:
            raise InputError(f"TRUSTEE {trustee}: {problem}")
    if automapping is not None and "FullAccess" not in wanted:
        raise InputError("--automapping/--no-automapping only applies to --right FullAccess")
    return [PermRow(n, mailbox, trustee, right, action,
                    automapping if right == "FullAccess" else None)
            for n, right in enumerate(wanted, start=1)]


def parse_argument(parse: Callable[[str], str], value: str, what: str) -> str:
    try:
        return parse(value)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def _right_for(value: str, action: str) -> str:
    """A --right value (legacy words included) for a grant or revoke command."""
    try:
        right, implied = parse_right(value)
    except ValueError as exc:
        raise InputError(f"--right: {exc}") from None
    if implied is not None and implied != action:
        raise InputError(f"--right {value} means {implied}; this command does {action}s",
                         hint=f"Use 'psbridge perms {implied}', or --right {right}.")
    return right


def _row(path: str, line: int, cells: Mapping[str, Any]) -> PermRow | list[Problem]:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, required, _, parse in COLUMNS:
        text = (cells.get(name) or "").strip()
        if not text:
            values[name] = None
            if required:
                problems.append(Problem(path, line, name, "is empty"))
            continue
        try:
            values[name] = parse(text)
        except ValueError as exc:
            problems.append(Problem(path, line, name, str(exc)))
    if problems:
        return problems
    right, implied = values["Right"]
    action = values["Action"]
    if implied is not None and action is not None and action != implied:
        return [Problem(path, line, "Action",
                        f"{action} contradicts the right word, which means {implied}")]
    automapping = values["AutoMapping"]
    final_action = implied or action or "grant"
    problem = orphan_problem(values["Trustee"], right, final_action)
    if problem:
        return [Problem(path, line, "Trustee", problem)]
    if automapping is not None and (right != "FullAccess" or final_action != "grant"):
        return [Problem(path, line, "AutoMapping",
                        "only applies to granting FullAccess; leave it empty here")]
    return PermRow(line, values["Mailbox"], values["Trustee"], right, final_action,
                   automapping)


def orphan_problem(trustee: str, right: str, action: str) -> str | None:
    """Why a row naming an orphaned SID cannot be done, if it cannot."""
    if not is_orphan_sid(trustee):
        return None
    if action != "revoke":
        return "an orphaned SID can only be revoked, not granted"
    if right == "SendOnBehalf":
        return "SendOnBehalf holds recipients, never SIDs: revoke FullAccess or SendAs"
    return None


def conflicts(path: str, rows: Iterable[PermRow]) -> list[Problem]:
    """Rows asking for opposite things about one grant (case-insensitive addresses).

    Grants are tracked by a hash of their identity pointing at the row already held, not
    by a second, case-folded copy of every address; a (rare) hash shared by two different
    grants is not taken for a conflict."""
    first: dict[int, PermRow] = {}
    problems: list[Problem] = []
    for row in rows:
        seen = first.setdefault(hash(row.identity()), row)
        if seen is row or seen.identity() != row.identity():
            continue
        if (seen.action, seen.automapping) != (row.action, row.automapping):
            problems.append(Problem(
                path, row.line, "Action",
                f"conflicts with line {seen.line}: {row.key} is asked to "
                f"{_wish(seen)} there and to {_wish(row)} here"))
    return problems


def _wish(row: PermRow) -> str:
    if row.automapping is None:
        return row.action
    return f"{row.action} (AutoMapping {'on' if row.automapping else 'off'})"
