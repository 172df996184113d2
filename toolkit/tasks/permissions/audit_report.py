"""What an audit report says: the snapshot's rows plus a summary people can act on.

The summary: grants per right, the mailboxes with the most delegates, the trustees with
the widest access, orphaned SIDs (and SendOnBehalf names that resolve to nobody), the noise
that was filtered, mailboxes that could not be read, and the changes since the tenant's
previous snapshot. The writers in :mod:`toolkit.io.perm_reports` turn it into JSON, CSV or
HTML.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from toolkit.tasks.permissions.drift import Drift
from toolkit.tasks.permissions.snapshots import (
    GRANT,
    GROUP,
    NOISE_KINDS,
    ORPHAN,
    UNRESOLVED,
    Grant,
    Snapshot,
)

TOP = 10
COLUMNS = ("mailbox", "trustee", "right", "kind", "source")


@dataclass
class AuditReport:
    snapshot: Snapshot
    # The rows shown (a --trustee filter may narrow them), read afresh at each call: the
    # summary and the report each stream them from the store instead of holding them.
    grants: Callable[[], Iterable[Grant]]
    since_previous: Drift | None  # None: no earlier snapshot of this tenant
    previous_id: int | None = None

    def rows(self) -> Iterator[dict[str, str]]:
        return (g.as_dict() for g in self.grants())

    def summary(self) -> dict[str, Any]:
        rights: Counter[str] = Counter()
        delegates: Counter[str] = Counter()
        reach: Counter[str] = Counter()
        names: dict[str, str] = {}
        findings: dict[str, list[dict[str, str]]] = {ORPHAN: [], UNRESOLVED: []}
        counted: set[tuple[str, str]] = set()  # (mailbox, trustee) pairs of one mailbox
        mailbox_now = ""
        shown = 0
        for grant in self.grants():
            shown += 1
            if grant.kind in findings:
                findings[grant.kind].append(grant.as_dict())
            if grant.kind not in (GRANT, GROUP):
                continue
            rights[grant.right] += 1
            mailbox, trustee = grant.mailbox.casefold(), grant.trustee.casefold()
            if mailbox != mailbox_now:  # rows come by mailbox: one mailbox's pairs at a time
                mailbox_now, counted = mailbox, set()
            if (mailbox, trustee) not in counted:
                counted.add((mailbox, trustee))
                delegates[mailbox] += 1
                reach[trustee] += 1
                names.setdefault(mailbox, grant.mailbox)
                names.setdefault(trustee, grant.trustee)
        drift = self.since_previous
        return {
            "snapshot": self.snapshot.summary(),
            "rows": shown,
            "rights": dict(sorted(rights.items())),
            "top_mailboxes": [{"mailbox": names[m], "delegates": n}
                              for m, n in _top(delegates)],
            "top_trustees": [{"trustee": names[t], "mailboxes": n} for t, n in _top(reach)],
            "orphans": findings[ORPHAN],
            "unresolved": findings[UNRESOLVED],
            "noise": {k: int(self.snapshot.noise.get(k, 0)) for k in NOISE_KINDS},
            "failed_mailboxes": list(self.snapshot.failures),
            "since_previous": None if drift is None else {
                "previous_snapshot": self.previous_id, **drift.summary(),
                "changes": drift.rows()},
        }


def _top(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:TOP]
