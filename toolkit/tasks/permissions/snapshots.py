"""Permission snapshots: each audit's grants, kept in the job store for drift and lookups.

The tables live in the same store as the journal (``jobs.sqlite3`` under the data folder,
or the shared PostgreSQL store) so one backup holds both; their schema is in
:mod:`toolkit.core.migrations`.
A snapshot is one audit of one tenant: when it was taken, what it covered (every mailbox
or a selection), its noise counts, and its rows. It is written chunk by chunk as the audit
reads the tenant (the mailboxes of each chunk are recorded with their rows, in one
transaction), so an audit stopped half-way (Ctrl-C, a crash, a lost connection) leaves a
*running* snapshot that the next audit with the same scope continues instead of starting
over. A mailbox whose read failed is not recorded as read: the snapshot then ends
*incomplete* (the next audit with the same scope reads what is missing). Only *complete*
snapshots are compared and looked up; asking for an incomplete one by id is refused.
A grant is the key (mailbox, trustee, right); ``kind`` says whether it is a plain grant, a
grant to a mail-enabled security group, an orphaned SID, an unresolved SendOnBehalf name, or
(with ``--include-noise``) a SELF, inherited or Deny entry. The snapshot also keeps the direct
members of each group that holds a right, read once the mailboxes are (see
:mod:`toolkit.tasks.permissions.group_access`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.core.database import shown
from toolkit.core.errors import ConnectionFailed, InputError
from toolkit.core.journal import Journal
from toolkit.core.tenants import TenantResolver, UnknownTenant

GRANT = "grant"
GROUP = "group"  # granted to a mail-enabled security group: every member holds it
ORPHAN = "orphan"
UNRESOLVED = "unresolved"
NOISE_KINDS = ("self", "inherited", "deny")
# Kinds that are real access, compared by diff and lookups; noise is kept only for show.
ACCESS_KINDS = (GRANT, GROUP, ORPHAN, UNRESOLVED)

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
    # running | incomplete (unfinished: the next audit continues it) | complete
    status: str = "complete"
    # What it is found by: the tenant's id, whichever name ``tenant`` is ('' for a name
    # that is no tenant; None until a snapshot stored before schema 4 is looked up).
    tenant_id: str | None = None
    noise: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)  # empty unless loaded with its rows
    groups: dict[str, list[str]] = field(default_factory=dict)  # group trustee -> members
    kinds: dict[str, int] = field(default_factory=dict)  # rows per kind, from the store

    @property
    def taken_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.taken))

    def access(self) -> list[Grant]:
        return [g for g in self.grants if g.is_access]

    def summary(self) -> dict[str, Any]:
        return {"snapshot": self.id, "tenant": self.tenant, "taken": self.taken_text,
                "scope": self.scope, "mailboxes": self.mailboxes,
                "grants": self.kinds.get(GRANT, 0) + self.kinds.get(GROUP, 0),
                "orphans": self.kinds.get(ORPHAN, 0),
                "unresolved": self.kinds.get(UNRESOLVED, 0),
                "noise": dict(self.noise), "failed_mailboxes": len(self.failures),
                "status": self.status}

    def require_complete(self) -> None:
        """Refuse a snapshot that does not hold every mailbox of its scope: comparing or
        looking up in it would report rights as gone that were only not read."""
        if self.status != "complete":
            raise InputError(
                f"permission snapshot {self.id} is {self.status}: "
                f"{len(self.failures)} mailbox(es) of its scope were not read",
                hint="Run the same audit again: it reads the missing mailboxes.")


class SnapshotStore(Journal):
    """The job store, with the snapshot tables. Not shared between threads."""

    def __enter__(self) -> SnapshotStore:
        return self

    def begin(self, *, tenant: str, tenant_id: str, profile: str, scope: str,
              noise_kept: bool, failures: Iterable[Mapping[str, str]] = ()) -> int:
        """Start a snapshot (status running) of ``tenant`` (as named), kept under its id;
        returns the snapshot's id."""
        with self._transaction() as db:
            created = db.execute(
                "INSERT INTO perm_snapshots (tenant, tenant_id, profile, taken, scope, "
                "noise_kept, failures) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (tenant, tenant_id, profile, time.time(), scope, int(noise_kept),
                 json.dumps([dict(f) for f in failures]))).fetchone()
            return int(created["id"])

    def unfinished(self, *, tenant_id: str, profile: str, scope: str, noise_kept: bool,
                   failures: Iterable[Mapping[str, str]] = ()) -> tuple[int, set[str]] | None:
        """The latest running or incomplete snapshot of the same audit, with the mailboxes
        it has read (case-folded), or None. A snapshot continued is running again, its
        failures replaced by ``failures`` (those of the listing just read): the mailboxes
        that failed before are read again."""
        found = self._db.execute(
            "SELECT id FROM perm_snapshots WHERE tenant_id = ? AND profile = ? AND scope = ? "
            "AND noise_kept = ? AND status IN ('running', 'incomplete') "
            "ORDER BY id DESC LIMIT 1",
            (tenant_id, profile, scope, int(noise_kept))).fetchone()
        if found is None:
            return None
        with self._transaction() as db:
            db.execute("UPDATE perm_snapshots SET status = 'running', failures = ? "
                       "WHERE id = ?", (json.dumps([dict(f) for f in failures]), found["id"]))
        read = self._db.execute("SELECT mailbox FROM perm_snapshot_read WHERE snapshot_id = ?",
                                (found["id"],)).fetchall()
        return int(found["id"]), {r["mailbox"] for r in read}

    def add_chunk(self, snapshot_id: int, mailboxes: Iterable[str], grants: Iterable[Grant],
                  noise: Mapping[str, int], failures: Iterable[Mapping[str, str]]) -> None:
        """Record one chunk: its mailboxes as read (not those that failed), their rows,
        noise and failures."""
        failures = [dict(f) for f in failures]
        failed = {f["mailbox"].casefold() for f in failures}
        with self._transaction() as db:
            row = db.execute("SELECT noise, failures FROM perm_snapshots WHERE id = ?",
                             (snapshot_id,)).fetchone()
            total = Counter({k: int(v) for k, v in json.loads(row["noise"]).items()})
            total.update(noise)
            db.execute("UPDATE perm_snapshots SET noise = ?, failures = ? WHERE id = ?",
                       (json.dumps(dict(total)),
                        json.dumps([*json.loads(row["failures"]), *failures]), snapshot_id))
            db.executemany(
                "INSERT OR IGNORE INTO perm_snapshot_read (snapshot_id, mailbox) VALUES (?, ?)",
                ((snapshot_id, m.casefold()) for m in mailboxes
                 if m.casefold() not in failed))
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
                           "kind = ? AND fold(trustee) = fold(?)",
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
        """End a snapshot of ``mailboxes`` mailboxes: complete (from now on diffs and
        lookups read it) when every one of them was read, else incomplete."""
        with self._transaction() as db:
            read = db.execute("SELECT COUNT(*) FROM perm_snapshot_read WHERE snapshot_id = ?",
                              (snapshot_id,)).fetchone()[0]
            status = "complete" if read >= mailboxes else "incomplete"
            db.execute("UPDATE perm_snapshots SET status = ?, mailboxes = ?, taken = ? "
                       "WHERE id = ?", (status, mailboxes, time.time(), snapshot_id))
        return self.load(snapshot_id, rows=False)

    def recent(self, tenant_id: str | None = None, limit: int = 50, *,
               profile: str | None = None, incomplete: bool = False) -> list[Snapshot]:
        """Complete snapshots (and incomplete ones too, with ``incomplete``), newest first,
        without their rows; of one tenant (its id) and/or taken with one profile."""
        conditions = [(column, value) for column, value in (("tenant_id", tenant_id),
                                                            ("profile", profile)) if value]
        statuses = "('complete', 'incomplete')" if incomplete else "('complete')"
        where = " AND ".join([*(f"{column} = ?" for column, _ in conditions),
                              f"status IN {statuses}"])
        rows = self._db.execute(
            f"SELECT * FROM perm_snapshots WHERE {where} ORDER BY taken DESC, id DESC LIMIT ?",
            (*(value for _, value in conditions), limit)).fetchall()
        return [self._counted(_snapshot(r)) for r in rows]

    def load(self, snapshot_id: int, *, rows: bool = True) -> Snapshot:
        """A snapshot, with its rows in memory (``rows=False``: read them with
        :meth:`rows` as they are used; a whole tenant's rows are never needed at once)."""
        row = self._db.execute("SELECT * FROM perm_snapshots WHERE id = ?",
                               (snapshot_id,)).fetchone()
        if row is None:
            raise InputError(f"no permission snapshot {snapshot_id} in {shown(self.path)}",
                             hint="'psbridge perms snapshots' lists them.")
        snapshot = self._counted(_snapshot(row))
        if rows:
            snapshot.grants = list(self.rows(snapshot_id))
        for trustee, member in self._db.execute(
                "SELECT trustee, member FROM perm_snapshot_groups WHERE snapshot_id = ? "
                "ORDER BY trustee, member", (snapshot_id,)):
            snapshot.groups.setdefault(trustee, []).extend([member] if member else [])
        return snapshot

    def _counted(self, snapshot: Snapshot) -> Snapshot:
        snapshot.kinds = {kind: count for kind, count in self._db.execute(
            "SELECT kind, COUNT(*) FROM perm_snapshot_rows WHERE snapshot_id = ? "
            "GROUP BY kind", (snapshot.id,))}
        return snapshot

    def mailboxes_read(self, snapshot_id: int) -> set[str]:
        """The mailboxes a snapshot read (case-folded primary addresses)."""
        rows = self._db.execute("SELECT mailbox FROM perm_snapshot_read WHERE snapshot_id = ?",
                                (snapshot_id,)).fetchall()
        return {r["mailbox"] for r in rows}

    def latest(self, tenant_id: str, count: int = 1) -> list[Snapshot]:
        """The tenant's newest ``count`` snapshots with their rows, newest first."""
        return [self.load(s.id) for s in self.recent(tenant_id, limit=count)]

    def untagged_tenants(self) -> list[str]:
        """The tenant names of snapshots stored before they were kept by tenant id."""
        rows = self._db.execute("SELECT DISTINCT tenant FROM perm_snapshots "
                                "WHERE tenant_id IS NULL").fetchall()
        return [r["tenant"] for r in rows]

    def tag_tenant(self, tenant: str, tenant_id: str) -> None:
        """Keep the snapshots stored under the name ``tenant`` under its id from now on."""
        with self._transaction() as db:
            db.execute("UPDATE perm_snapshots SET tenant_id = ? "
                       "WHERE tenant_id IS NULL AND tenant = ?", (tenant_id, tenant))

    def rows(self, snapshot_id: int, trustee: str | None = None) -> Iterator[Grant]:
        """The snapshot's rows in order, read from the store as they are used; only those
        of ``trustee`` (case-insensitive) with one."""
        where, params = _rows_of(snapshot_id, trustee)
        for row in self._db.execute(
                "SELECT mailbox, trustee, access_right, kind, source FROM perm_snapshot_rows "
                f"WHERE {where} ORDER BY mailbox, trustee, access_right, kind, source",
                params):
            yield Grant(row[0], row[1], row[2], row[3], row[4])

    def count_rows(self, snapshot_id: int, trustee: str | None = None) -> int:
        """How many rows :meth:`rows` gives."""
        where, params = _rows_of(snapshot_id, trustee)
        return int(self._db.execute(f"SELECT COUNT(*) FROM perm_snapshot_rows WHERE {where}",
                                    params).fetchone()[0])

    def access_only_in(self, snapshot_id: int, other_id: int) -> list[Grant]:
        """The access rows (grants, orphans, unresolved names) of one snapshot whose
        (mailbox, trustee, right), compared case-insensitively, the other lacks; one per
        key, in order. The store compares the two sides, so neither is held in memory."""
        kinds = ", ".join(f"'{k}'" for k in ACCESS_KINDS)
        # One text key, not a row value: SQLite answers a row-value NOT IN that finds
        # nothing by scanning the whole list (x10 at 4,000 mailboxes).
        key = "fold(mailbox) || char(10) || fold(trustee) || char(10) || fold(access_right)"
        found: dict[tuple[str, str, str], Grant] = {}
        for row in self._db.execute(
                f"SELECT mailbox, trustee, access_right, kind, source "
                f"FROM perm_snapshot_rows WHERE snapshot_id = ? AND kind IN ({kinds}) "
                f"AND {key} NOT IN (SELECT {key} FROM perm_snapshot_rows "
                f"WHERE snapshot_id = ? AND kind IN ({kinds})) "
                f"ORDER BY {key}, kind, source", (snapshot_id, other_id)):
            grant = Grant(*row[:5])
            found.setdefault(grant.key, grant)  # the first row of a key stands for it
        return sorted(found.values())


def _rows_of(snapshot_id: int, trustee: str | None) -> tuple[str, list[int | str]]:
    """The WHERE clause and parameters of a snapshot's rows (of one trustee)."""
    if trustee:
        return "snapshot_id = ? AND fold(trustee) = ?", [snapshot_id, trustee.casefold()]
    return "snapshot_id = ?", [snapshot_id]


def tag_stored_tenants(store: SnapshotStore, resolver: TenantResolver | None) -> None:
    """Give snapshots stored under a tenant name (before schema 4) their tenant's id, so
    every name of the tenant finds them. A name that is no tenant (a profile's name, once
    the fallback) gets '' and is not looked up again; one the identity platform cannot
    answer for now is tried the next time."""
    if resolver is None:
        return
    for name in store.untagged_tenants():
        try:
            tenant_id = resolver.resolve(name).id
        except UnknownTenant:
            tenant_id = ""
        except ConnectionFailed:
            continue
        store.tag_tenant(name, tenant_id)


def _snapshot(row: Any) -> Snapshot:
    return Snapshot(id=row["id"], tenant=row["tenant"], profile=row["profile"],
                    taken=row["taken"], scope=row["scope"], mailboxes=row["mailboxes"],
                    status=row["status"], tenant_id=row["tenant_id"],
                    noise=json.loads(row["noise"]), failures=json.loads(row["failures"]))
