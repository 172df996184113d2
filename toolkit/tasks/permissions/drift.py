"""Drift: what changed between two snapshots, or between a snapshot and an approved list.

Only real access is compared (grants, orphaned SIDs, unresolved SendOnBehalf names), never
the noise an audit may have kept. Grants are matched by (mailbox, trustee, right) with
addresses compared case-insensitively.

The approved list (``--baseline``) is a CSV in the bulk format of ``perms apply``
(``Mailbox,Trustee,Right[,Action,AutoMapping]``): its grant rows are the access that
should exist. It speaks FullAccess, SendAs and SendOnBehalf only, so the other mailbox
rights (ReadPermission, ChangePermission, ...) are left out of that comparison. A fix plan
turns the difference into rows of the same format: revoke what is not approved, grant what
is missing. Orphaned SIDs and unresolved names cannot be addressed by a CSV row; they are
reported, not planned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.core.errors import InputError
from toolkit.core.tenants import TenantRef
from toolkit.tasks.permissions.snapshots import GRANT, GROUP, ORPHAN, Grant, Snapshot, SnapshotStore

BASELINE_RIGHTS = ("FullAccess", "SendAs", "SendOnBehalf")


@dataclass
class Drift:
    added: list[Grant] = field(default_factory=list)  # new, or not approved
    removed: list[Grant] = field(default_factory=list)  # gone, or approved but missing

    @property
    def found(self) -> bool:
        return bool(self.added or self.removed)

    def rows(self) -> list[dict[str, str]]:
        return ([{"change": "added", **g.as_dict()} for g in self.added]
                + [{"change": "removed", **g.as_dict()} for g in self.removed])

    def summary(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed)}


@dataclass
class Compared:
    """A tenant's drift, its newer snapshot, and what was compared (for the reader)."""

    drift: Drift
    snapshot: Snapshot
    compared: str


def drift_of(store: SnapshotStore, tenant: TenantRef, snapshots: Sequence[int],
             approved: Sequence[Grant] | None, baseline: str) -> Compared:
    """The drift between two snapshots (ids; none: the tenant's last two), or, with
    ``approved`` (the grants of the baseline file named ``baseline``), between them and one
    snapshot (none: the latest). Raises :class:`InputError` when there is nothing to compare."""
    if snapshots:
        loaded = [store.load(i, rows=False) for i in snapshots]
        for snapshot in loaded:
            snapshot.require_complete()
    else:
        loaded = list(reversed(store.recent(tenant.id, 1 if approved is not None else 2)))
    if approved is not None:
        if not loaded:
            raise InputError(f"no permission snapshot of {tenant.name} yet",
                             hint="Run 'psbridge perms audit --all' first.")
        newer = store.load(loaded[-1].id)
        return Compared(compare_baseline(newer, approved), newer,
                        f"snapshot {newer.id} against {baseline}")
    if len(loaded) < 2:
        raise InputError(f"{tenant.name} has {len(loaded)} permission snapshot(s); diff "
                         "needs two",
                         hint="Run 'psbridge perms audit --all' again later.")
    older, newer = loaded
    return Compared(compare_snapshots(store, older, newer), newer,
                    f"snapshot {older.id} -> {newer.id}")


def compare(old: Iterable[Grant], new: Iterable[Grant]) -> Drift:
    before = {g.key: g for g in old if g.is_access}
    after = {g.key: g for g in new if g.is_access}
    return Drift(added=sorted(g for k, g in after.items() if k not in before),
                 removed=sorted(g for k, g in before.items() if k not in after))


def compare_snapshots(store: SnapshotStore, old: Snapshot, new: Snapshot) -> Drift:
    """Drift between two audits, over the mailboxes both covered (a partial audit says
    nothing about the mailboxes it did not read). The store compares the rows: two
    30,000-mailbox snapshots are never held in memory."""
    scopes = [s for s in (in_scope(old), in_scope(new)) if s is not None]
    common = set.intersection(*scopes) if scopes else None

    def covered(grants: Iterable[Grant]) -> list[Grant]:
        return [g for g in grants if common is None or g.mailbox.casefold() in common]

    return Drift(added=covered(store.access_only_in(new.id, old.id)),
                 removed=covered(store.access_only_in(old.id, new.id)))


def in_scope(snapshot: Snapshot) -> set[str] | None:
    """The mailboxes a partial snapshot covered (case-folded); None for a whole tenant."""
    if snapshot.scope == "all":
        return None
    return {m.strip().casefold() for m in snapshot.scope.split(",") if m.strip()}


def read_baseline(path: Path) -> list[Grant]:
    """The approved grants of a bulk-format CSV (validated as a whole: exit 2 on problems).

    Revoke rows say what must not exist: they are simply not approved.
    """
    from toolkit.tasks.permissions.rows import PermissionCsv

    return [Grant(r.mailbox, r.trustee, r.right) for r in PermissionCsv(path).read()
            if r.action == "grant"]


def compare_baseline(snapshot: Snapshot, approved: Sequence[Grant]) -> Drift:
    """Unapproved access (added) and approved grants missing (removed)."""
    scope = in_scope(snapshot)
    wanted = [g for g in approved if scope is None or g.mailbox.casefold() in scope]
    actual = [g for g in snapshot.access() if g.right in BASELINE_RIGHTS]
    return compare(wanted, actual)


@dataclass(frozen=True)
class FixRow:
    mailbox: str
    trustee: str
    right: str
    action: str

    def as_dict(self) -> dict[str, str]:
        return {"Mailbox": self.mailbox, "Trustee": self.trustee, "Right": self.right,
                "Action": self.action}


def fix_plan(drift: Drift) -> tuple[list[FixRow], list[Grant]]:
    """(rows that make the tenant match the baseline, grants no row can address).

    A group is named by its address, as a user is; an orphaned SID is revoked by its SID, as
    ``perms revoke MAILBOX S-1-5-21-...`` does; a delegate Exchange could not resolve has no
    identity a row could name.
    """
    addressable = (GRANT, GROUP, ORPHAN)
    rows = [FixRow(g.mailbox, g.trustee, g.right, "revoke") for g in drift.added
            if g.kind in addressable]
    rows += [FixRow(g.mailbox, g.trustee, g.right, "grant") for g in drift.removed]
    unfixable = [g for g in drift.added if g.kind not in addressable]
    return rows, unfixable
