"""``ws.perms.who_can_access`` and ``ws.perms.access_of``: access looked up in both
directions, from the newest snapshot that covers the question or from the tenant now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolkit.api.perms_snapshots import GRANT_COLUMNS, PermissionSnapshots
from toolkit.core.errors import InputError

if TYPE_CHECKING:
    from toolkit.tasks.permissions.snapshots import Grant, Snapshot, SnapshotStore

# A lookup row: a grant's columns and the group a right is held through (empty: directly).
LOOKUP_COLUMNS = (*GRANT_COLUMNS, "via")


@dataclass
class Lookup:
    """The rights found (rows with :data:`LOOKUP_COLUMNS`) and where they were read:
    ``live`` or ``snapshot N (taken)``."""

    rows: list[dict[str, str]]
    source: str

    @property
    def through_groups(self) -> int:
        """Rights held through a group."""
        return sum(1 for r in self.rows if r["via"])


@dataclass
class _Answer:
    """What a lookup answers from: the access grants, the groups' members and the source."""

    grants: list[Grant]
    groups: dict[str, list[str]]
    source: str


class PermissionLookups(PermissionSnapshots):
    """Reverse lookups of ``ws.perms``. An address the tenant (or the snapshot) does not
    know raises an :class:`InputError` with the closest known address, never an empty
    answer."""

    def who_can_access(self, mailbox: str, *, live: bool = False,
                       expand_groups: bool = False) -> Lookup:
        """Everyone who can open, send as, or send on behalf of ``mailbox``. A right held
        by a group is one row of kind ``group``; ``expand_groups`` lists its direct members
        instead (``via`` names the group)."""
        answer = self._answer(mailbox=mailbox, trustee=None, live=live)
        held = [g for g in answer.grants if g.mailbox.casefold() == mailbox.casefold()]
        if expand_groups:
            from toolkit.tasks.permissions.group_access import expand_groups as expanded

            return Lookup(expanded(held, answer.groups), answer.source)
        return Lookup([{**g.as_dict(), "via": ""} for g in held], answer.source)

    def access_of(self, user: str, *, live: bool = False) -> Lookup:
        """Every mailbox ``user`` can open, send as, or send on behalf of, directly or
        through a mail-enabled security group it is a direct member of."""
        from toolkit.tasks.permissions.group_access import access_of

        answer = self._answer(mailbox=None, trustee=user, live=live)
        rows = access_of(answer.grants, answer.groups, user)
        if not rows and not live:
            # Nothing held in the snapshot: a user without access, or a misspelt address.
            self._require_trustee(user)
        return Lookup(rows, answer.source)

    def _answer(self, *, mailbox: str | None, trustee: str | None, live: bool) -> _Answer:
        """The newest snapshot that covers the question, or the tenant now with ``live``."""
        from toolkit.tasks.permissions.snapshots import SnapshotStore

        if live:
            return self._live(mailbox, trustee)
        key = self.snapshot_tenant()
        tenant = key.name
        with SnapshotStore() as store:
            latest, read = _answering_snapshot(store, key.id, mailbox)
        if latest is None:
            raise InputError(f"no permission snapshot of {tenant} yet",
                             hint="Run 'psbridge perms audit --all' first, or add --live.")
        if mailbox and mailbox.casefold() not in read:
            _not_in_snapshot(latest, mailbox, read)
        if trustee and latest.scope != "all":
            raise InputError(f"no snapshot of every mailbox of {tenant}: the latest, snapshot "
                             f"{latest.id}, read only {latest.scope}",
                             hint="Run 'psbridge perms audit --all', or add --live.")
        return _Answer(latest.access(), latest.groups,
                       f"snapshot {latest.id} ({latest.taken_text})")

    def _live(self, mailbox: str | None, trustee: str | None) -> _Answer:
        """The access on ``mailbox`` (every mailbox without one) as the tenant has it now;
        an unknown mailbox or trustee is refused before anything is read."""
        from toolkit.tasks.permissions.audit import read_live

        if trustee:
            self._require_trustee(trustee)
        grants, failures, groups = read_live(self._ws.target, self._ws.catalog,
                                             [mailbox] if mailbox else None)
        if failures:
            raise InputError(f"{failures[0]['mailbox']}: {failures[0]['message']}")
        return _Answer([g for g in grants if g.is_access], groups, "live")


def _answering_snapshot(store: SnapshotStore, tenant_id: str, mailbox: str | None
                        ) -> tuple[Snapshot | None, set[str]]:
    """The snapshot a lookup answers from (or none) and the mailboxes it read: for a
    mailbox, the newest that read it; else (and when none did) the newest of every
    mailbox, or the newest at all."""
    recent = store.recent(tenant_id)
    if mailbox:
        for snapshot in recent:
            read = store.mailboxes_read(snapshot.id)
            if mailbox.casefold() in read:
                return store.load(snapshot.id), read
    chosen = next((s for s in recent if s.scope == "all"), recent[0] if recent else None)
    if chosen is None:
        return None, set()
    return store.load(chosen.id), store.mailboxes_read(chosen.id)


def _not_in_snapshot(snapshot: Snapshot, mailbox: str, read: set[str]) -> None:
    """A mailbox the snapshot did not read: unknown (it read every one) or not covered."""
    from toolkit.tasks.lookups import unknown_address

    if snapshot.scope == "all":
        raise unknown_address(
            "mailbox", mailbox, f"snapshot {snapshot.id} of {snapshot.tenant}, which read "
            "every mailbox", read,
            hint="A mailbox created since then: add --live, or run 'psbridge perms audit "
            "--all' again.")
    raise InputError(
        f"mailbox {mailbox} is not in snapshot {snapshot.id} of {snapshot.tenant}: it read "
        f"only {snapshot.scope}",
        hint=f"Add --live, or run 'psbridge perms audit --mailbox {mailbox}' (or --all).")
