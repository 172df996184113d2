"""The permissions planner: requested rows + the tenant as it is -> only the real changes.

Rows already true are dropped (reported as unchanged), the rest are grouped by mailbox and
run through ``exchange/perms-apply`` by the runner. Every change job records its decisions
(``options["changes"]``: line -> op, right, mailbox, trustee, AutoMapping), which serves
twice:

- ``jobs resume`` (``resume_plan``) re-reads the tenant and plans only what is still
  missing. A row that was in flight at a crash and is now true was applied: it is recorded
  as changed and not sent again, so each change is applied exactly once.
- Exchange Online cannot tell what AutoMapping an existing FullAccess grant has. psbridge
  remembers what its own jobs applied (``automapping_memory``); a request for an AutoMapping
  that differs from that, or for a grant psbridge did not make, is done by removing and
  granting again (op ``remap``), and reported as such.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.core.jobs import JobPlan, Resumption, resume_state
from toolkit.core.journal import Job, Journal, RowOutcome
from toolkit.core.runner import WorkRow
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.tasks.lookups import refuse_rows, tenant_problems
from toolkit.tasks.permissions.read import (
    TenantState,
    current_permissions,
    every_mailbox,
    require_trustee,
)
from toolkit.tasks.permissions.rows import PermissionCsv, PermRow

KIND = "permissions"  # stored in jobs; tasks/registry.py resumes by it
APPLY_TEMPLATE = "exchange/perms-apply"
MEMORY_JOBS = 500  # how many recent jobs AutoMapping memory looks through

Pair = tuple[str, str]  # (mailbox primary SMTP, trustee UPN), case-folded


@dataclass(frozen=True)
class Change:
    """One change to make: ``op`` is grant, revoke or remap (FullAccess removed and
    granted again, to change its AutoMapping)."""

    row: PermRow
    op: str
    mailbox: str  # primary SMTP address
    trustee: str  # UPN
    note: str = ""

    def work_row(self) -> WorkRow:
        return WorkRow(self.row.line, self.row.key, {
            "Mailbox": self.mailbox, "Trustee": self.trustee, "Right": self.row.right,
            "Op": self.op, "AutoMapping": self.row.automapping,
        }, self.row.keys)

    def record(self) -> list[Any]:
        return [self.op, self.row.right, self.mailbox.casefold(), self.trustee.casefold(),
                self.row.automapping]


Unchanged = tuple[PermRow, str]  # a row left alone, and why


class ReadAgain(Collection[Unchanged]):
    """The rows a plan leaves alone, counted when planned and decided again from the
    file each time they are listed: a file of millions of rows is never held."""

    def __init__(self, count: int, again: Callable[[], Iterator[Unchanged]]):
        self._count = count
        self._again = again

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Unchanged]:
        return self._again()

    def __contains__(self, item: object) -> bool:
        return any(item == found for found in self)


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: Collection[Unchanged] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def raise_problems(self, source: str) -> None:
        if self.problems:
            raise tenant_problems(
                source, self.problems,
                hint="Fix the mailbox and trustee addresses listed and run again.")


def _onoff(value: bool | None) -> str:
    return "on" if value in (None, True) else "off"


def plan_changes(rows: Iterable[PermRow], state: TenantState,
                 automapping: Mapping[Pair, bool], *, source: str = "",
                 remap_lines: Iterable[int] = (),
                 again: Callable[[], Iterable[PermRow]] | None = None) -> Plan:
    """Decide each row against the tenant's state; pure (no I/O but ``again``).

    ``automapping`` is what psbridge knows of existing FullAccess grants' AutoMapping.
    ``remap_lines`` were planned as remaps by an interrupted job: they stay remaps while
    the grant exists. ``again`` reads the rows once more (a file): the rows left alone
    are then only counted, and decided again from it when listed.
    """
    forced = frozenset(remap_lines)
    prefix = _prefix(source)

    def decided(rows: Iterable[PermRow]) -> Iterator[Change | Unchanged | str]:
        return _decisions(rows, state, automapping, forced, prefix)

    plan = Plan()
    kept: list[Unchanged] = []
    count = 0
    for decision in decided(rows):
        if isinstance(decision, Change):
            plan.changes.append(decision)
        elif isinstance(decision, str):
            plan.problems.append(decision)
        elif again is None:
            kept.append(decision)
        else:
            count += 1
    plan.unchanged = kept
    if again is not None:
        reread = again
        plan.unchanged = ReadAgain(count, lambda: (d for d in decided(reread())
                                                   if isinstance(d, tuple)))
    plan.changes.sort(key=lambda c: (c.mailbox.casefold(), c.row.line))
    return plan


def _decisions(rows: Iterable[PermRow], state: TenantState,
               automapping: Mapping[Pair, bool], forced: frozenset[int], prefix: str
               ) -> Iterator[Change | Unchanged | str]:
    """Each row's decision: a change, a row left alone (with why), or a problem."""
    seen: dict[tuple[str, str, str], PermRow] = {}
    for row in rows:
        box = state.mailbox(row.mailbox)
        trustee = state.trustee(row.trustee)
        bad = False
        if box is None or not box.found:
            reason = box.message if box else "not read"
            yield f"{prefix}{row.line}: Mailbox: {row.mailbox}: {reason}"
            bad = True
        if trustee is None or not trustee.found:
            reason = trustee.message if trustee else "not read"
            yield f"{prefix}{row.line}: Trustee: {row.trustee}: {reason}"
            bad = True
        if bad or box is None or trustee is None:
            continue
        canonical = (box.key.casefold(), trustee.key.casefold(), row.right)
        earlier = seen.setdefault(canonical, row)
        if earlier is not row:
            if (earlier.action, earlier.automapping) != (row.action, row.automapping):
                yield (f"{prefix}{row.line}: conflicts with line {earlier.line}: both name "
                       f"{row.right} of {trustee.key} on {box.key}")
            else:
                yield (row, f"same as line {earlier.line}")
            continue
        holds = trustee.holds(box.holders(row.right))
        if row.action == "revoke":
            yield (Change(row, "revoke", box.key, trustee.key) if holds
                   else (row, "not granted"))
            continue
        if not holds:
            yield Change(row, "grant", box.key, trustee.key)
            continue
        known = automapping.get((box.key.casefold(), trustee.key.casefold()))
        if row.line in forced:
            yield Change(row, "remap", box.key, trustee.key,
                         f"AutoMapping {_onoff(row.automapping)}")
        elif row.right != "FullAccess" or row.automapping is None or known == row.automapping:
            yield (row, "already granted")
        elif known is None:
            yield Change(
                row, "remap", box.key, trustee.key,
                f"AutoMapping of this grant is unknown (Exchange does not show it): "
                f"removed and granted again with AutoMapping {_onoff(row.automapping)}")
        else:
            yield Change(
                row, "remap", box.key, trustee.key,
                f"AutoMapping {_onoff(known)} -> {_onoff(row.automapping)}: removed and "
                "granted again")


def _prefix(source: str) -> str:
    """What a row's line number follows in a problem: ``f.csv:`` or ``line ``."""
    return f"{source}:" if source else "line "


def refuse_unknown_addresses(target: Target, catalog: TemplateCatalog,
                             rows: Iterable[PermRow], state: TenantState, source: str) -> None:
    """Rows naming a mailbox or trustee the tenant does not have: the whole request is
    refused (exit 2, nothing changed), each listed with the closest mailbox address."""
    missing: list[tuple[str, str, str]] = []
    for row in rows:
        box, trustee = state.mailbox(row.mailbox), state.trustee(row.trustee)
        if box is not None and not box.found:
            missing.append((f"{_prefix(source)}{row.line}: Mailbox", "mailbox", row.mailbox))
        if trustee is not None and not trustee.found:
            missing.append((f"{_prefix(source)}{row.line}: Trustee", "user", row.trustee))
    refuse_rows(source or "request", missing, lambda: every_mailbox(target, catalog),
                hint="Fix the mailbox and trustee addresses listed and run again.")


def automapping_memory(journal: Journal, profile: str, tenant: str | None,
                       rows: Iterable[PermRow]) -> dict[Pair, bool]:
    """The AutoMapping psbridge's own jobs last gave each FullAccess grant it touched.

    Only looked up when some of ``rows`` asks for an AutoMapping (the job store is not
    read otherwise).

    A revoke recorded later than a grant forgets it. Only rows that came back changed
    count (an "already so" answer says nothing about the grant's AutoMapping).
    """
    memory: dict[Pair, bool | None] = {}
    if all(r.automapping is None for r in rows):
        return {}
    for job in journal.jobs(MEMORY_JOBS):  # newest first
        if job.options.get("kind") != KIND or (job.profile, job.tenant) != (profile, tenant):
            continue
        changes: Mapping[str, list[Any]] = job.options.get("changes", {})
        if not changes:
            continue
        done = {o.row for o in journal.outcomes(job.id) if o.status == "changed"}
        for line, (op, right, mailbox, trustee, wanted) in sorted(
                changes.items(), key=lambda item: -int(item[0])):
            if right != "FullAccess" or int(line) not in done:
                continue
            memory.setdefault((mailbox, trustee),
                              None if op == "revoke" else wanted is not False)
    return {pair: value for pair, value in memory.items() if value is not None}


@dataclass
class Request:
    """A permissions request planned against the tenant: what the runner will do. The
    rows of a file are not held (``rows`` is empty): the plan reads them again."""

    task: str
    rows: list[PermRow]
    plan: Plan
    csv: PermissionCsv | None = None

    def job(self) -> JobPlan:
        return job_plan(self.task, self.rows, self.plan, csv=self.csv)


def plan_request(target: Target, catalog: TemplateCatalog, task: str, rows: list[PermRow], *,
                 csv: PermissionCsv | None = None, revoke_all: str | None = None,
                 concurrency: int | None = None, will_apply: bool = True) -> Request:
    """Read the mailboxes and trustees involved, then plan only the real changes.

    ``csv``: a file :meth:`PermissionCsv.validate` found valid, whose rows are read as
    they are used (``rows`` is ignored). ``revoke_all``: plan revoking every right that
    user holds on any mailbox (``rows`` is ignored). ``will_apply``: the plan is meant to
    be applied, so a profile whose role may not apply it is refused before anything is
    read. Problems the tenant shows (a mailbox that does not exist) raise with every one
    listed; nothing is changed.
    """
    from toolkit.core.jobs import check_role

    if will_apply:
        check_role(catalog.meta(APPLY_TEMPLATE), target)
    again = csv.rows if csv is not None else None
    if revoke_all is not None:
        rows, state = holdings(target, catalog, revoke_all, concurrency)
    else:
        state = read_state(target, catalog, again() if again else rows, concurrency)
    with Journal() as journal:
        memory = automapping_memory(journal, target.profile.name, target.tenant,
                                    again() if again else rows)
    source = str(csv.path) if csv else ""
    refuse_unknown_addresses(target, catalog, again() if again else rows, state, source)
    plan = plan_changes(again() if again else rows, state, memory, source=source,
                        again=again)
    plan.raise_problems(source or "request")
    return Request(task, rows, plan, csv)


def holdings(target: Target, catalog: TemplateCatalog, user: str,
             concurrency: int | None) -> tuple[list[PermRow], TenantState]:
    """Revoke rows for every right ``user`` holds on any mailbox of the tenant."""
    from toolkit.tasks.permissions.audit import home_tenant
    from toolkit.tasks.permissions.rows import RIGHTS

    resolved = require_trustee(target, catalog, user, home_tenant(target),
                               hint="Give the user's address (UPN).")
    state = current_permissions(target, catalog, None, holder=resolved.key,
                                concurrency=concurrency)
    state.trustees[user.casefold()] = resolved
    rows = [PermRow(0, box.requested, user, right, "revoke")
            for box in sorted(state.mailboxes.values(), key=lambda b: b.key.casefold())
            for right in RIGHTS if resolved.holds(box.holders(right))]
    return [PermRow(n, r.mailbox, r.trustee, r.right, r.action)
            for n, r in enumerate(rows, start=1)], state


def read_state(target: Target, catalog: TemplateCatalog, rows: Iterable[PermRow],
               concurrency: int | None = None) -> TenantState:
    """The state of the mailboxes and trustees ``rows`` name (each once, however often)."""
    mailboxes: dict[str, None] = {}
    trustees: dict[str, None] = {}
    for row in rows:
        mailboxes[row.mailbox] = None
        trustees[row.trustee] = None
    return current_permissions(target, catalog, list(mailboxes), trustees=list(trustees),
                               concurrency=concurrency)


def job_plan(task: str, rows: Sequence[PermRow], plan: Plan, *,
             csv: PermissionCsv | None = None, skipped: int = 0) -> JobPlan:
    """The runner's job for a plan. Rows not read from a file travel in the options."""
    changes = list(plan.changes)

    def work() -> Iterator[WorkRow]:
        return (c.work_row() for c in changes)

    options: dict[str, Any] = {
        "kind": KIND,
        "changes": {str(c.row.line): c.record() for c in changes},
    }
    if csv is None:
        options["rows"] = [r.to_json() for r in rows]
    return JobPlan(
        task=task, template=APPLY_TEMPLATE, rows=work, total=len(changes) + skipped,
        input_path=str(csv.path.resolve()) if csv else None,
        input_sha256=csv.sha256() if csv else None, options=options, confirm=applied_rows,
    )


def applied_rows(target: Target, catalog: TemplateCatalog, rows: list[WorkRow]) -> set[int]:
    """The grant and revoke rows the tenant already shows done (remaps cannot be told)."""
    checkable = [w for w in rows if w.data["Op"] in ("grant", "revoke")]
    if not checkable:
        return set()
    state = current_permissions(target, catalog, [w.data["Mailbox"] for w in checkable],
                                trustees=[w.data["Trustee"] for w in checkable],
                                concurrency=1)
    done = set()
    for work in checkable:
        box = state.mailbox(work.data["Mailbox"])
        trustee = state.trustee(work.data["Trustee"])
        if box is None or trustee is None or not box.found or not trustee.found:
            continue
        if trustee.holds(box.holders(work.data["Right"])) == (work.data["Op"] == "grant"):
            done.add(work.row)
    return done


def resume_plan(job: Job, journal: Journal, target: Target, catalog: TemplateCatalog,
                rerun_unknown: bool) -> Resumption:
    """Re-read the tenant and plan what is still missing of an interrupted job.

    Rows in flight at the stop that are now true were applied: they are recorded as
    changed and not sent again. A remap in flight cannot be verified (Exchange does not
    show AutoMapping) and stays unknown unless ``rerun_unknown``.
    """
    csv: PermissionCsv | None = None
    if job.input_path:
        csv = PermissionCsv(Path(job.input_path))
        done, unknown = resume_state(journal, job, csv.path, csv.sha256())
        rows = csv.read()
    else:
        done, unknown = resume_state(journal, job, None, None)
        rows = [PermRow.from_json(r) for r in job.options.get("rows", [])]
    recorded: Mapping[str, list[Any]] = job.options.get("changes", {})
    ops = {int(line): change[0] for line, change in recorded.items()}
    remaining = [r for r in rows if r.line in ops and r.line not in done]
    state = read_state(target, catalog, remaining)
    memory = automapping_memory(journal, job.profile, job.tenant, remaining)
    remaps = [line for line, op in ops.items() if op == "remap"]
    plan = plan_changes(remaining, state, memory, source=job.input_path or "",
                        remap_lines=[line for line in remaps if line not in unknown])
    plan.raise_problems(job.input_path or f"job {job.id}")
    remapping = {c.row.line for c in plan.changes if c.op == "remap"}
    verified: list[RowOutcome] = []
    still_unknown: set[int] = set()
    for row, _reason in plan.unchanged:
        if row.line in unknown:
            verified.append(RowOutcome(row.line, "changed", row.key, None,
                                       "applied before the interruption (verified in the "
                                       "tenant)"))
        else:
            verified.append(RowOutcome(row.line, "unchanged", row.key, None,
                                       "already so when the job resumed"))
    if not rerun_unknown:
        still_unknown = unknown & remapping
    if verified:
        journal.record_outcomes(job.id, verified)
    skip = done | {o.row for o in verified} | still_unknown
    resumed = job_plan(job.task, rows, plan, csv=csv, skipped=len(skip))
    return Resumption(resumed, skip, still_unknown)
