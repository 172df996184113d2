"""Permission snapshots: each audit's grants, kept in the job store for drift and lookups.

The tables live in the same SQLite file as the journal (``jobs.sqlite3`` under the data
folder) so one backup holds both; this module owns them and creates them on first use.
A snapshot is one audit of one tenant: when it was taken, what it covered (every mailbox
or a selection), its noise counts, and its rows. It is written chunk by chunk as the audit
reads the tenant (the mailboxes of each chunk are recorded with their rows, in one
transaction), so an audit stopped half-way (Ctrl-C, a crash, a lost connection) leaves a
*running* snapshot that the next audit with the same scope continues instead of starting
over. Only *complete* snapshots are compared and looked up. A grant is the key (mailbox, trustee,
right); ``kind`` says whether it is a plain grant, a grant to a mail-enabled security group,
an orphaned SID, an unresolved SendOnBehalf name, or (with ``--include-noise``) a SELF,
inherited or Deny entry. The snapshot also keeps the direct members of each group that holds
a right, read once the mailboxes are (see :mod:`toolkit.tasks.group_access`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.core.errors import InputError
from toolkit.core.journal import Journal

GRANT = "grant"
GROUP = "group"  # granted to a mail-enabled security group: every member holds it
ORPHAN = "orphan"
UNRESOLVED = "unresolved"
NOISE_KINDS = ("self", "inherited", "deny")
# Kinds that are real access, compared by diff and lookups; noise is kept only for show.
ACCESS_KINDS = (GRANT, GROUP, ORPHAN, UNRESOLVED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS perm_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    profile TEXT NOT NULL,
    taken REAL NOT NULL,
    scope TEXT NOT NULL,
    noise_kept INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'running',
    mailboxes INTEGER NOT NULL DEFAULT 0,
    noise TEXT NOT NULL DEFAULT '{}',
    failures TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS perm_snapshot_read (
    snapshot_id INTEGER NOT NULL REFERENCES perm_snapshots(id) ON DELETE CASCADE,
    mailbox TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, mailbox)
);
CREATE TABLE IF NOT EXISTS perm_snapshot_rows (
    snapshot_id INTEGER NOT NULL REFERENCES perm_snapshots(id) ON DELETE CASCADE,
    mailbox TEXT NOT NULL,
    trustee TEXT NOT NULL,
    access_right TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS perm_snapshot_groups (
    snapshot_id INTEGER NOT NULL REFERENCES perm_snapshots(id) ON DELETE CASCADE,
    trustee TEXT NOT NULL,  -- the group as the rows name it
    member TEXT  -- a direct member's primary SMTP address; NULL for a group without any
);
CREATE INDEX IF NOT EXISTS perm_rows_by_snapshot ON perm_snapshot_rows(snapshot_id);
CREATE INDEX IF NOT EXISTS perm_snapshots_by_tenant ON perm_snapshots(tenant, taken);
"""


@dataclass(frozen=True, order=True)
class Grant:
    """One right one trustee holds on one mailbox. ``source``: the cmdlet family it came
    from (mailbox: Get-MailboxPermission, recipient: Get-RecipientPermission,
    sendonbehalf: the mailbox's GrantSendOnBehalfTo)."""

    mailbox: str
    trustee: str
    right: str
    kind: str = GRANT
    source: str = "mailbox"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.mailbox.casefold(), self.trustee.casefold(), self.right.casefold())

    @property
    def is_access(self) -> bool:
        return self.kind in ACCESS_KINDS

    def as_dict(self) -> dict[str, str]:
        return {"mailbox": self.mailbox, "trustee": self.trustee, "right": self.right,
                "kind": self.kind, "source": self.source}


@dataclass
class Snapshot:
    id: int
    tenant: str
    profile: str
    taken: float
    scope: str  # "all" or the mailboxes named, comma separated
    mailboxes: int
    status: str = "complete"  # running (unfinished: the next audit continues it) | complete
    noise: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)  # group trustee -> members
    kinds: dict[str, int] = field(default_factory=dict)  # rows per kind, rows not loaded

    @property
    def taken_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.taken))

    def access(self) -> list[Grant]:
        return [g for g in self.grants if g.is_access]

    def summary(self) -> dict[str, Any]:
        kinds = Counter(g.kind for g in self.grants) if self.grants else self.kinds
        return {"snapshot": self.id, "tenant": self.tenant, "taken": self.taken_text,
                "scope": self.scope, "mailboxes": self.mailboxes,
                "grants": kinds.get(GRANT, 0) + kinds.get(GROUP, 0),
                "orphans": kinds.get(ORPHAN, 0), "unresolved": kinds.get(UNRESOLVED, 0),
                "noise": dict(self.noise), "failed_mailboxes": len(self.failures)}


class SnapshotStore(Journal):
    """The job store, with the snapshot tables. Not shared between threads."""

    def __init__(self, path: Path | None = None):
        super().__init__(path)
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def __enter__(self) -> SnapshotStore:
        return self

    def begin(self, *, tenant: str, profile: str, scope: str, noise_kept: bool,
              failures: Iterable[Mapping[str, str]] = ()) -> int:
        """Start a snapshot (status running); returns its id."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO perm_snapshots (tenant, profile, taken, scope, noise_kept, "
                "failures) VALUES (?, ?, ?, ?, ?, ?)",
                (tenant, profile, time.time(), scope, int(noise_kept),
                 json.dumps([dict(f) for f in failures])))
            return int(cursor.lastrowid or 0)

    def unfinished(self, *, tenant: str, profile: str, scope: str, noise_kept: bool
                   ) -> tuple[int, set[str]] | None:
        """The latest running snapshot of the same audit, with the mailboxes it has read
        (case-folded), or None."""
        found = self._db.execute(
            "SELECT id FROM perm_snapshots WHERE tenant = ? AND profile = ? AND scope = ? "
            "AND noise_kept = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
            (tenant, profile, scope, int(noise_kept))).fetchone()
        if found is None:
            return None
        read = self._db.execute("SELECT mailbox FROM perm_snapshot_read WHERE snapshot_id = ?",
                                (found["id"],)).fetchall()
        return int(found["id"]), {r["mailbox"] for r in read}

    def add_chunk(self, snapshot_id: int, mailboxes: Iterable[str], grants: Iterable[Grant],
                  noise: Mapping[str, int], failures: Iterable[Mapping[str, str]]) -> None:
        """Record one chunk: its mailboxes as read, their rows, noise and failures."""
        with self._transaction() as db:
            row = db.execute("SELECT noise, failures FROM perm_snapshots WHERE id = ?",
                             (snapshot_id,)).fetchone()
            total = Counter({k: int(v) for k, v in json.loads(row["noise"]).items()})
            total.update(noise)
            failed = [*json.loads(row["failures"]), *(dict(f) for f in failures)]
            db.execute("UPDATE perm_snapshots SET noise = ?, failures = ? WHERE id = ?",
                       (json.dumps(dict(total)), json.dumps(failed), snapshot_id))
            db.executemany(
                "INSERT OR IGNORE INTO perm_snapshot_read (snapshot_id, mailbox) VALUES (?, ?)",
                ((snapshot_id, m.casefold()) for m in mailboxes))
            db.executemany(
                "INSERT INTO perm_snapshot_rows (snapshot_id, mailbox, trustee, access_right, "
                "kind, source) VALUES (?, ?, ?, ?, ?, ?)",
                ((snapshot_id, g.mailbox, g.trustee, g.right, g.kind, g.source)
                 for g in grants))

    def add_groups(self, snapshot_id: int, groups: Mapping[str, Iterable[str]]) -> None:
        """Record which trustees are groups (their rows become kind ``group``) and their
        members; replaces what an interrupted earlier attempt recorded."""
        with self._transaction() as db:
            db.execute("DELETE FROM perm_snapshot_groups WHERE snapshot_id = ?", (snapshot_id,))
            for trustee, members in groups.items():
                db.execute("UPDATE perm_snapshot_rows SET kind = ? WHERE snapshot_id = ? AND "
                           "kind = ? AND trustee = ? COLLATE NOCASE",
                           (GROUP, snapshot_id, GRANT, trustee))
                db.executemany(
                    "INSERT INTO perm_snapshot_groups (snapshot_id, trustee, member) "
                    "VALUES (?, ?, ?)",
                    [(snapshot_id, trustee, m) for m in members] or [(snapshot_id, trustee, None)])

    def trustees(self, snapshot_id: int) -> list[str]:
        """The trustees of a snapshot's plain grants (the ones that may be groups)."""
        return [r[0] for r in self._db.execute(
            "SELECT DISTINCT trustee FROM perm_snapshot_rows WHERE snapshot_id = ? AND kind = ?",
            (snapshot_id, GRANT))]

    def finish(self, snapshot_id: int, mailboxes: int) -> Snapshot:
        """Mark a snapshot complete: from now on diffs and lookups read it."""
        with self._transaction() as db:
            db.execute("UPDATE perm_snapshots SET status = 'complete', mailboxes = ?, "
                       "taken = ? WHERE id = ?", (mailboxes, time.time(), snapshot_id))
        return self.load(snapshot_id)

    def recent(self, tenant: str | None = None, limit: int = 50, *,
               profile: str | None = None) -> list[Snapshot]:
        """Complete snapshots, newest first, without their rows; of one tenant and/or
        taken with one profile."""
        conditions = [(column, value) for column, value in (("tenant", tenant),
                                                            ("profile", profile)) if value]
        where = " AND ".join([*(f"{column} = ?" for column, _ in conditions),
                              "status = 'complete'"])
        rows = self._db.execute(
            f"SELECT * FROM perm_snapshots WHERE {where} ORDER BY taken DESC, id DESC LIMIT ?",
            (*(value for _, value in conditions), limit)).fetchall()
        found = {r["id"]: _snapshot(r) for r in rows}
        marks = ",".join("?" * len(found))
        for snapshot_id, kind, count in self._db.execute(
                f"SELECT snapshot_id, kind, COUNT(*) FROM perm_snapshot_rows "
                f"WHERE snapshot_id IN ({marks}) GROUP BY snapshot_id, kind", tuple(found)):
            found[snapshot_id].kinds[kind] = count
        return list(found.values())

    def load(self, snapshot_id: int) -> Snapshot:
        row = self._db.execute("SELECT * FROM perm_snapshots WHERE id = ?",
                               (snapshot_id,)).fetchone()
        if row is None:
            raise InputError(f"no permission snapshot {snapshot_id} in {self.path}",
                             hint="'psbridge perms snapshots' lists them.")
        snapshot = _snapshot(row)
        snapshot.grants = list(self._grants(snapshot_id))
        for trustee, member in self._db.execute(
                "SELECT trustee, member FROM perm_snapshot_groups WHERE snapshot_id = ? "
                "ORDER BY trustee, member", (snapshot_id,)):
            snapshot.groups.setdefault(trustee, []).extend([member] if member else [])
        return snapshot

    def mailboxes_read(self, snapshot_id: int) -> set[str]:
        """The mailboxes a snapshot read (case-folded primary addresses)."""
        rows = self._db.execute("SELECT mailbox FROM perm_snapshot_read WHERE snapshot_id = ?",
                                (snapshot_id,)).fetchall()
        return {r["mailbox"] for r in rows}

    def latest(self, tenant: str, count: int = 1) -> list[Snapshot]:
        """The tenant's newest ``count`` snapshots with their rows, newest first."""
        return [self.load(s.id) for s in self.recent(tenant, limit=count)]

    def _grants(self, snapshot_id: int) -> Iterator[Grant]:
        for row in self._db.execute(
                "SELECT mailbox, trustee, access_right, kind, source FROM perm_snapshot_rows "
                "WHERE snapshot_id = ? ORDER BY mailbox, trustee, access_right",
                (snapshot_id,)):
            yield Grant(row[0], row[1], row[2], row[3], row[4])


def _snapshot(row: sqlite3.Row) -> Snapshot:
    return Snapshot(id=row["id"], tenant=row["tenant"], profile=row["profile"],
                    taken=row["taken"], scope=row["scope"], mailboxes=row["mailboxes"],
                    status=row["status"],
                    noise=json.loads(row["noise"]), failures=json.loads(row["failures"]))
