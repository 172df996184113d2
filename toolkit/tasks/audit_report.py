"""What an audit report says: the snapshot's rows plus a summary people can act on.

The summary: grants per right, the mailboxes with the most delegates, the trustees with
the widest access, orphaned SIDs (and SendOnBehalf names that resolve to nobody), the noise
that was filtered, mailboxes that could not be read, and the changes since the tenant's
previous snapshot. The writers in :mod:`toolkit.io.perm_reports` turn it into JSON, CSV or
HTML.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from toolkit.tasks.drift import Drift
from toolkit.tasks.snapshots import GRANT, GROUP, NOISE_KINDS, ORPHAN, UNRESOLVED, Grant, Snapshot

TOP = 10
COLUMNS = ("mailbox", "trustee", "right", "kind", "source")


@dataclass
class AuditReport:
    snapshot: Snapshot
    grants: list[Grant]  # the rows shown (a --trustee filter may narrow them)
    since_previous: Drift | None  # None: no earlier snapshot of this tenant
    previous_id: int | None = None

    def rows(self) -> list[dict[str, str]]:
        return [g.as_dict() for g in self.grants]

    def summary(self) -> dict[str, Any]:
        access = [g for g in self.grants if g.kind in (GRANT, GROUP)]
        delegates: Counter[str] = Counter()
        reach: Counter[str] = Counter()
        for mailbox, trustee in {(g.mailbox.casefold(), g.trustee.casefold()) for g in access}:
            delegates[mailbox] += 1
            reach[trustee] += 1
        names = {g.mailbox.casefold(): g.mailbox for g in access}
        names.update({g.trustee.casefold(): g.trustee for g in access})
        drift = self.since_previous
        return {
            "snapshot": self.snapshot.summary(),
            "rights": dict(sorted(Counter(g.right for g in access).items())),
            "top_mailboxes": [{"mailbox": names[m], "delegates": n}
                              for m, n in _top(delegates)],
            "top_trustees": [{"trustee": names[t], "mailboxes": n} for t, n in _top(reach)],
            "orphans": [g.as_dict() for g in self.grants if g.kind == ORPHAN],
            "unresolved": [g.as_dict() for g in self.grants if g.kind == UNRESOLVED],
            "noise": {k: int(self.snapshot.noise.get(k, 0)) for k in NOISE_KINDS},
            "failed_mailboxes": list(self.snapshot.failures),
            "since_previous": None if drift is None else {
                "previous_snapshot": self.previous_id, **drift.summary(),
                "changes": drift.rows()},
        }


def _top(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:TOP]
