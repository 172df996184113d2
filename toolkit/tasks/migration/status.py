"""Migration batches and their users as the ``exchange/migration-status`` template reports
them, summarised for status tables, progress bars, reports and exit codes.

A ``--watch`` poll reads every user's state and item counts in one ``Get-MigrationUser``
per batch, then the per-user statistics only of the users :func:`to_read` picks (whose
state changed, or who failed); :func:`parse_status` carries what only the statistics give
(the source's item total, the percentage) over from the last poll.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.tasks.migration.batches import in_family

SYNCED = frozenset({"Synced", "IncrementalSyncing", "IncrementalSynced", "Completed",
                    "CompletedWithWarnings"})
FAILED = frozenset({"Failed", "IncrementalFailed"})
STOPPED = frozenset({"Stopped"})
IDLE_BATCH = frozenset({"Created", "Stopped"})  # nothing moves until it is started
NOT_COPYING = frozenset({"Queued", "Provisioning"})  # no item copied yet
STATE_ORDER = ("Queued", "Provisioning", "Syncing", "Synced", "Failed", "Stopped", "Removing")
REPORT_COLUMNS = ("batch", "email", "status", "items_synced", "items_skipped", "items_total",
                  "percent", "service_percent", "last_sync", "error")


@dataclass(frozen=True)
class UserState:
    batch: str
    email: str
    status: str
    synced: int = 0
    skipped: int = 0
    total: int = 0
    percent: int = 0
    last_sync: str | None = None
    error: str = ""

    @property
    def category(self) -> str:
        """synced, failed, stopped or active."""
        if self.status in SYNCED:
            return "synced"
        if self.status in FAILED:
            return "failed"
        if self.status in STOPPED:
            return "stopped"
        return "active"

    @property
    def items_percent(self) -> int:
        """Items copied of the items found. Exchange's own PercentageComplete stays at 95
        for a synced IMAP user until the batch is completed, which reads as unfinished."""
        if self.category == "synced":
            return 100
        if self.total <= 0:
            return self.percent
        return min(100, 100 * self.synced // self.total)

    def report_row(self) -> dict[str, Any]:
        return {"batch": self.batch, "email": self.email, "status": self.status,
                "items_synced": self.synced, "items_skipped": self.skipped,
                "items_total": self.total, "percent": self.items_percent,
                "service_percent": self.percent, "last_sync": self.last_sync,
                "error": self.error}


@dataclass
class BatchState:
    name: str
    status: str
    endpoint: str = ""
    users: list[UserState] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(u.category for u in self.users)

    @property
    def states(self) -> Counter[str]:
        """Users per migration state, in the order states are reached."""
        found = Counter(u.status for u in self.users)
        ordered = {s: found[s] for s in STATE_ORDER if found[s]}
        return Counter({**ordered, **{s: n for s, n in found.items() if s not in ordered}})

    @property
    def items_synced(self) -> int:
        return sum(u.synced for u in self.users)

    @property
    def items_total(self) -> int:
        return sum(max(u.total, u.synced) for u in self.users)

    @property
    def settled(self) -> bool:
        """Nothing will change without someone acting: every user synced or failed (or the
        batch is idle: created and not started, or stopped)."""
        if self.status in IDLE_BATCH:
            return True
        return all(u.category in ("synced", "failed", "stopped") for u in self.users)

    def state_text(self) -> str:
        return ", ".join(f"{n} {s.lower()}" for s, n in self.states.items()) or "no users"


def parse_status(records: Sequence[Mapping[str, Any]], names: Sequence[str] = (),
                 previous: Sequence[BatchState] = ()) -> list[BatchState]:
    """Batches (filtered to the named families) with their users, in report order, with
    the statistics among ``records`` applied. A user without statistics this time keeps
    the item total and percentage of ``previous``."""
    before = {(u.batch, u.email): u for b in previous for u in b.users}
    batches: dict[str, BatchState] = {}
    for item in records:
        batch = str(item.get("b") or "")
        if names and not any(in_family(n, batch) for n in names):
            continue
        if item.get("k") == "batch":
            batches[batch] = BatchState(batch, str(item.get("s") or ""), str(item.get("e") or ""))
        elif item.get("k") == "users" and batch in batches:
            for user in _as_list(item.get("u")):
                email = str(user.get("Identity") or "")
                last = before.get((batch, email))
                batches[batch].users.append(UserState(
                    batch, email, str(user.get("Status") or ""),
                    int(user.get("SyncedItemCount") or 0),
                    int(user.get("SkippedItemCount") or 0),
                    last.total if last else 0, last.percent if last else 0,
                    str(user["LastSuccessfulSyncTime"])
                    if user.get("LastSuccessfulSyncTime") else None,
                    str(user.get("ErrorSummary") or "")))
    found = list(batches.values())
    return with_statistics(found, [r for r in records if r.get("k") == "stats"])


def with_statistics(batches: Sequence[BatchState], records: Sequence[Mapping[str, Any]]
                    ) -> list[BatchState]:
    """The batches with the users' statistics records (``k`` stats) applied."""
    stats = {str(r.get("m") or "").casefold(): r for r in records}
    for batch in batches:
        batch.users = [_updated(u, stats[u.email.casefold()])
                       if u.email.casefold() in stats else u for u in batch.users]
    return list(batches)


def _updated(user: UserState, item: Mapping[str, Any]) -> UserState:
    return UserState(user.batch, user.email, str(item.get("s") or user.status),
                     int(item.get("y") or 0), int(item.get("x") or 0), int(item.get("t") or 0),
                     int(item.get("p") or 0), str(item["l"]) if item.get("l") else None,
                     str(item.get("r") or ""))


def to_read(batches: Sequence[BatchState], previous: Sequence[BatchState]) -> list[str]:
    """The users whose statistics a --watch poll reads: those whose state changed since
    ``previous`` (unless to a state before any copying, where the statistics say nothing
    new), and failed users seen for the first time."""
    before = {(u.batch, u.email): u.status for b in previous for u in b.users}
    return [u.email for b in batches for u in b.users
            if ((b.name, u.email) in before and before[(b.name, u.email)] != u.status
                and u.status not in NOT_COPYING)
            or ((b.name, u.email) not in before and u.category == "failed")]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def outcome(batches: Sequence[BatchState]) -> tuple[bool, str]:
    """(all synced?, a one-line summary) once every batch has settled."""
    counts: Counter[str] = Counter()
    for batch in batches:
        counts.update(batch.counts)
    idle = [b.name for b in batches if b.status in IDLE_BATCH]
    total = sum(counts.values())
    parts = [f"{counts[c]} {c}" for c in ("synced", "failed", "stopped", "active") if counts[c]]
    summary = f"{total} user(s): {', '.join(parts) or 'none'}"
    if idle:
        summary += f"; not running: {', '.join(idle)}"
    ok = total > 0 and counts["synced"] == total and not idle
    return ok, summary


def report_summary(batches: Sequence[BatchState]) -> dict[str, Any]:
    """A migration report's summary: users per state, items moved, failures and why."""
    users = [u for b in batches for u in b.users]
    states = Counter(u.status for b in batches for u in b.users)
    return {
        "cards": [("users", len(users)),
                  ("synced", sum(1 for u in users if u.category == "synced")),
                  ("failed", sum(1 for u in users if u.category == "failed")),
                  ("items moved", sum(b.items_synced for b in batches)),
                  ("items found", sum(b.items_total for b in batches))],
        "states": [{"state": s, "users": n} for s, n in sorted(
            states.items(), key=lambda item: (STATE_ORDER.index(item[0])
                                              if item[0] in STATE_ORDER else 99, item[0]))],
        "batches": [{"batch": b.name, "status": b.status, "users": len(b.users),
                     "items moved": b.items_synced, "items found": b.items_total}
                    for b in batches],
        "failures": [{"email": u.email, "status": u.status, "reason": u.error}
                     for u in users if u.category == "failed"],
    }
