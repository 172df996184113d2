"""Permission snapshots: each audit's grants, kept in the job store for drift and lookups.

The tables live in the same store as the journal (``jobs.sqlite3`` under the data folder,
or the shared PostgreSQL store) so one backup holds both; their schema is in
:mod:`toolkit.core.migrations`.
A snapshot is one audit of one tenant: when it was taken, what it covered (every mailbox
or a selection), its noise counts, and its rows. It is written chunk by chunk as the audit
reads the tenant (the mailboxes of each chunk are recorded with their rows, in one
transaction), so an audit stopped half-way (Ctrl-C, a crash, a lost connection) leaves a
*running* snapshot that the next audit with the same scope continues instead of starting
over. Only *complete* snapshots are compared and looked up. A grant is the key (mailbox, trustee,
right); ``kind`` says whether it is a plain grant, an orphaned SID, an unresolved
SendOnBehalf name, or (with ``--include-noise``) a SELF, inherited or Deny entry.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.core.database import shown
from toolkit.core.errors import InputError
from toolkit.core.journal import Journal

GRANT = "grant"
ORPHAN = "orphan"
UNRESOLVED = "unresolved"
NOISE_KINDS = ("self", "inherited", "deny")
# Kinds that are real access, compared by diff and lookups; noise is kept only for show.
ACCESS_KINDS = (GRANT, ORPHAN, UNRESOLVED)

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

    @property
    def taken_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.taken))

    def access(self) -> list[Grant]:
        return [g for g in self.grants if g.is_access]

    def summary(self) -> dict[str, Any]:
        return {"snapshot": self.id, "tenant": self.tenant, "taken": self.taken_text,
                "scope": self.scope, "mailboxes": self.mailboxes,
                "grants": sum(1 for g in self.grants if g.kind == GRANT),
                "orphans": sum(1 for g in self.grants if g.kind == ORPHAN),
                "unresolved": sum(1 for g in self.grants if g.kind == UNRESOLVED),
                "noise": dict(self.noise), "failed_mailboxes": len(self.failures)}


class SnapshotStore(Journal):
    """The job store, with the snapshot tables. Not shared between threads."""

    def __enter__(self) -> SnapshotStore:
        return self

    def begin(self, *, tenant: str, profile: str, scope: str, noise_kept: bool,
              failures: Iterable[Mapping[str, str]] = ()) -> int:
        """Start a snapshot (status running); returns its id."""
        with self._transaction() as db:
            created = db.execute(
                "INSERT INTO perm_snapshots (tenant, profile, taken, scope, noise_kept, "
                "failures) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (tenant, profile, time.time(), scope, int(noise_kept),
                 json.dumps([dict(f) for f in failures]))).fetchone()
            return int(created["id"])

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
        return [_snapshot(r) for r in rows]

    def load(self, snapshot_id: int) -> Snapshot:
        row = self._db.execute("SELECT * FROM perm_snapshots WHERE id = ?",
                               (snapshot_id,)).fetchone()
        if row is None:
            raise InputError(f"no permission snapshot {snapshot_id} in {shown(self.path)}",
                             hint="'psbridge perms snapshots' lists them.")
        snapshot = _snapshot(row)
        snapshot.grants = list(self._grants(snapshot_id))
        return snapshot

    def latest(self, tenant: str, count: int = 1) -> list[Snapshot]:
        """The tenant's newest ``count`` snapshots with their rows, newest first."""
        return [self.load(s.id) for s in self.recent(tenant, limit=count)]

    def _grants(self, snapshot_id: int) -> Iterator[Grant]:
        for row in self._db.execute(
                "SELECT mailbox, trustee, access_right, kind, source FROM perm_snapshot_rows "
                "WHERE snapshot_id = ? ORDER BY mailbox, trustee, access_right",
                (snapshot_id,)):
            yield Grant(row[0], row[1], row[2], row[3], row[4])


def _snapshot(row: Any) -> Snapshot:
    return Snapshot(id=row["id"], tenant=row["tenant"], profile=row["profile"],
                    taken=row["taken"], scope=row["scope"], mailboxes=row["mailboxes"],
                    status=row["status"],
                    noise=json.loads(row["noise"]), failures=json.loads(row["failures"]))
