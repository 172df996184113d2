"""Access held through mail-enabled security groups.

A right granted to a group reaches each of its members. Which trustees are groups, and
who their direct members are, is read in one pipeline (``exchange/perms-groups``: one
Get-Recipient listing of the groups, then ``Get-Recipient -Filter "MemberOfGroup -eq
'<group DN>'"`` per group that holds a right). The audit reads it once every mailbox is
read and keeps it in the snapshot; ``--live`` lookups read it the same way.

Members are direct members, by primary SMTP address: a group nested in a group shows as
a member, not expanded further.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from toolkit.core.errors import PartialFailure
from toolkit.core.jobs import run_once
from toolkit.core.reader import read_retrying
from toolkit.core.retry import TransientFailure, classify
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.tasks.permissions.snapshots import GRANT, GROUP, Grant

GROUPS_TEMPLATE = "exchange/perms-groups"

GroupMembers = Mapping[str, Sequence[str]]  # group trustee (as the grants name it) -> members


def read_groups(target: Target, catalog: TemplateCatalog, trustees: Iterable[str]
                ) -> dict[str, list[str]]:
    """The ``trustees`` that are groups, with their direct members; throttled and dropped
    reads are tried again."""
    names = sorted(set(trustees))
    if not names:
        return {}

    def read() -> dict[str, list[str]]:
        result = run_once(target, catalog, GROUPS_TEMPLATE, {"Trustees": names})
        if result.failed or not result.output:
            error = result.errors[-1] if result.errors else None
            if error is not None:
                verdict = classify(error.error_id, error.category, error.message,
                                   reason=error.reason)
                if verdict.retry:
                    raise TransientFailure(error.message, retry_after=verdict.retry_after,
                                           throttled=verdict.throttled)
            raise PartialFailure(
                "reading the members of the groups that hold rights failed: "
                f"{error.message if error else 'no answer'}",
                hint="Run the command again.")
        groups = json.loads(str(result.output[-1])).get("groups") or []
        return {str(g["t"]): [str(m) for m in (g.get("n") or [])]
                for g in (groups if isinstance(groups, list) else [groups])}

    return read_retrying(read)


def mark_groups(grants: Iterable[Grant], groups: GroupMembers) -> list[Grant]:
    """The grants, those held by a group marked kind ``group``."""
    names = {t.casefold() for t in groups}
    return [replace(g, kind=GROUP) if g.kind == GRANT and g.trustee.casefold() in names else g
            for g in grants]


def _members(groups: GroupMembers) -> dict[str, Sequence[str]]:
    return {t.casefold(): m for t, m in groups.items()}


def expand_groups(grants: Iterable[Grant], groups: GroupMembers) -> list[dict[str, str]]:
    """Lookup rows with each group's grant replaced by one row per member (``via`` names
    the group); a group without members keeps its own row."""
    members = _members(groups)
    rows: list[dict[str, str]] = []
    for grant in grants:
        found = members.get(grant.trustee.casefold(), ()) if grant.kind == GROUP else ()
        rows += ([{**replace(grant, trustee=m).as_dict(), "via": grant.trustee} for m in found]
                 or [{**grant.as_dict(), "via": ""}])
    return rows


def access_of(grants: Iterable[Grant], groups: GroupMembers, user: str) -> list[dict[str, str]]:
    """Lookup rows of what ``user`` holds: directly (``via`` empty) and through each group
    it is a direct member of (``via`` names the group)."""
    wanted = user.casefold()
    members = _members(groups)
    rows: list[dict[str, str]] = []
    for grant in grants:
        if grant.trustee.casefold() == wanted:
            rows.append({**grant.as_dict(), "via": ""})
        elif grant.kind == GROUP and wanted in {m.casefold() for m in
                                                members.get(grant.trustee.casefold(), ())}:
            rows.append({**replace(grant, trustee=user).as_dict(), "via": grant.trustee})
    return rows
