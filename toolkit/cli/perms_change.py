"""``psbridge perms grant|revoke|apply|revoke-all``: changing mailbox permissions.

Every command takes the same path: requested rows -> read the mailboxes involved -> plan
(only real changes, grouped by mailbox) -> the runner and the journal (resumable).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from toolkit.cli.jobrun import concurrency_option, distributed_option, execute
from toolkit.cli.main import AppContext
from toolkit.cli.output import emit
from toolkit.cli.perms import perms
from toolkit.core.errors import InputError
from toolkit.io.plain_text import mixed_scripts

if TYPE_CHECKING:
    from toolkit.core.jobs import JobPlan
    from toolkit.core.journal import Job
    from toolkit.core.runner import RowResult
    from toolkit.core.target import Target
    from toolkit.core.templates import TemplateCatalog
    from toolkit.tasks.permission_rows import PermissionCsv, PermRow
    from toolkit.tasks.permissions import Plan
    from toolkit.tasks.permissions_read import TenantState

PLAN_SHOWN = 50  # changes listed before a real run; --dry-run lists them all
VERBS = {"grant": "grant", "revoke": "revoke", "remap": "remove + grant"}


def _right_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option("--right", "rights", multiple=True, required=True, metavar="RIGHT",
                        help="FullAccess, SendAs or SendOnBehalf, any case (repeatable); "
                        "legacy words such as GrantSendAs or RemoveFullAccess are accepted "
                        "when they match the command.")(function)


def _dry_run_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option("--dry-run", is_flag=True,
                        help="Read the tenant and show the plan; change nothing.")(function)


def _address(value: str, what: str, *, orphan_ok: bool = False) -> str:
    """A MAILBOX or TRUSTEE argument; a trustee may be an orphaned SID (to revoke it)."""
    from toolkit.tasks.permission_rows import parse_address, parse_trustee

    try:
        return parse_trustee(value) if orphan_ok else parse_address(value)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def _right(value: str, action: str) -> str:
    """A --right value (legacy words included) for a grant or revoke command."""
    from toolkit.tasks.permission_rows import parse_right

    try:
        right, implied = parse_right(value)
    except ValueError as exc:
        raise InputError(f"--right: {exc}") from None
    if implied is not None and implied != action:
        raise InputError(f"--right {value} means {implied}; this command does {action}s",
                         hint=f"Use 'psbridge perms {implied}', or --right {right}.")
    return right


def _single_rows(mailbox: str, trustee: str, rights: tuple[str, ...], action: str,
                 automapping: bool | None) -> list[PermRow]:
    from toolkit.tasks.permission_rows import PermRow, orphan_problem

    mailbox = _address(mailbox, "MAILBOX")
    trustee = _address(trustee, "TRUSTEE", orphan_ok=True)
    wanted = list(dict.fromkeys(_right(r, action) for r in rights))
    for right in wanted:
        problem = orphan_problem(trustee, right, action)
        if problem:
            raise InputError(f"TRUSTEE {trustee}: {problem}")
    if automapping is not None and "FullAccess" not in wanted:
        raise InputError("--automapping/--no-automapping only applies to --right FullAccess")
    return [PermRow(n, mailbox, trustee, right, action,
                    automapping if right == "FullAccess" else None)
            for n, right in enumerate(wanted, start=1)]


def _show_plan(app: AppContext, plan: Plan, *, dry_run: bool, single: bool) -> None:
    """A dry run lists every row; a real run lists the changes (and, for one mailbox and
    trustee, the rights left alone) on screen only, before the job's own summary."""
    rows = [{"line": c.row.line, "mailbox": c.mailbox, "right": c.row.right,
             "trustee": c.trustee, "change": VERBS[c.op], "note": c.note}
            for c in plan.changes]
    if dry_run or single:
        rows += [{"line": row.line, "mailbox": row.mailbox, "right": row.right,
                  "trustee": row.trustee, "change": "unchanged", "note": reason}
                 for row, reason in plan.unchanged]
    columns = ["line", "mailbox", "right", "trustee", "change", "note"]
    _warn_look_alikes(plan)
    if dry_run:
        emit(app, rows, columns, title="Plan")
    elif app.output == "table" and rows:
        emit(app, rows[:PLAN_SHOWN], columns, title="Plan")
        if len(rows) > PLAN_SHOWN:
            click.echo(f"... and {len(rows) - PLAN_SHOWN} more (--dry-run lists them all)")


def _warn_look_alikes(plan: Plan) -> None:
    """Warn about addresses mixing alphabets (a Cyrillic "а" in a Latin address): a
    look-alike of the address the reader thinks they are approving."""
    for change in plan.changes:
        for what, address in (("mailbox", change.row.mailbox), ("trustee", change.row.trustee)):
            scripts = mixed_scripts(address)
            if scripts:
                click.echo(f"warning: line {change.row.line}: {what} {address!a} "
                           f"mixes {' and '.join(sorted(scripts))} letters: a look-alike "
                           "address?", err=True)


def _unchanged_results(plan: Plan) -> list[RowResult]:
    from toolkit.core.runner import RowResult

    return [RowResult(row.line, "unchanged", row.key, reason) for row, reason in plan.unchanged]


def _run_job(app: AppContext, target: Target, catalog: TemplateCatalog, job: JobPlan,
             plan: Plan, *, concurrency: int | None, chunk_size: int,
             results_path: Path | None, distributed: bool = False) -> None:
    """Run the changes; rows left alone are recorded in the job and the results file too,
    so both list every row of the request."""
    from toolkit.core.journal import Journal, RowOutcome
    from toolkit.io.results import ResultsWriter

    unchanged = _unchanged_results(plan)

    def record_unchanged(started: Job) -> None:
        with Journal() as journal:
            journal.record_rows(started.id, ((r.row, r.key, {}) for r in unchanged))
            journal.record_outcomes(started.id, [RowOutcome(r.row, r.status, r.key, None,
                                                            r.message) for r in unchanged])

    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(ResultsWriter(results_path)) if results_path else None
        if writer is not None:
            writer.write(unchanged)
        execute(app, target, catalog, job, concurrency=concurrency, chunk_size=chunk_size,
                results_path=None, on_start=record_unchanged,
                on_results=writer.write if writer is not None else None,
                distributed=distributed)


def _change(app: AppContext, task: str, rows: list[PermRow], *, dry_run: bool,
            concurrency: int | None, chunk_size: int, results_path: Path | None,
            csv: PermissionCsv | None = None, revoke_all: str | None = None,
            single: bool = False, distributed: bool = False) -> None:
    """Read, plan, show, and (unless --dry-run) apply through the runner and journal."""
    from toolkit.core.config import resolve_profile
    from toolkit.core.jobs import check_role
    from toolkit.core.journal import Journal
    from toolkit.core.target import open_target
    from toolkit.core.templates import TemplateCatalog
    from toolkit.tasks.permissions import (
        APPLY_TEMPLATE,
        automapping_memory,
        job_plan,
        plan_changes,
        read_state,
    )

    catalog = TemplateCatalog()
    profile = resolve_profile(app.profile_name)
    with open_target(profile, app.tenant) as target:
        if not dry_run:
            check_role(catalog.meta(APPLY_TEMPLATE), target)
        if revoke_all is not None:
            rows, state = _holdings(target, catalog, revoke_all, concurrency)
        else:
            state = read_state(target, catalog, rows, concurrency)
        with Journal() as journal:
            memory = automapping_memory(journal, profile.name, target.tenant, rows)
        source = str(csv.path) if csv else ""
        plan = plan_changes(rows, state, memory, source=source)
        plan.raise_problems(source or "request")
        _show_plan(app, plan, dry_run=dry_run, single=single)
        already = f"{len(plan.unchanged)} already so" if plan.unchanged else ""
        if dry_run:
            click.echo(f"dry run: {len(plan.changes)} change(s)"
                       + (f", {already}" if already else "") + "; nothing was changed",
                       err=True)
            return
        if not plan.changes:
            click.echo(f"nothing to change: {len(plan.unchanged)} unchanged", err=True)
            if app.output != "table":
                emit(app, [{"job": None, "status": "unchanged", "rows": len(plan.unchanged),
                            "seconds": 0}], ["job", "status", "rows", "seconds"])
            if results_path is not None:
                from toolkit.io.results import ResultsWriter

                with ResultsWriter(results_path) as writer:
                    writer.write(_unchanged_results(plan))
            return
        if already:
            click.echo(f"{already} (unchanged, not sent)", err=True)
        _run_job(app, target, catalog, job_plan(task, rows, plan, csv=csv), plan,
                 concurrency=concurrency, chunk_size=chunk_size, results_path=results_path,
                 distributed=distributed)


def _holdings(target: Target, catalog: TemplateCatalog, user: str,
              concurrency: int | None) -> tuple[list[PermRow], TenantState]:
    """Revoke rows for every right ``user`` holds on any mailbox of the tenant."""
    from toolkit.tasks.permission_rows import RIGHTS, PermRow
    from toolkit.tasks.permissions_read import current_permissions

    resolved = current_permissions(target, catalog, [], trustees=[user]).trustee(user)
    if resolved is None or not resolved.found:
        from toolkit.tasks.lookups import unknown_address
        from toolkit.tasks.snapshots import SnapshotStore

        exchange = target.profile.services.get("exchange")
        tenant = target.tenant or (exchange.organization if exchange else None)
        with SnapshotStore() as store:  # the addresses the latest audit saw, for a guess
            latest = store.latest(tenant, 1) if tenant else []
        raise unknown_address("user", user, tenant or "the tenant",
                              {g.trustee for s in latest for g in s.grants},
                              hint="Give the user's address (UPN).")
    state = current_permissions(target, catalog, None, holder=resolved.key,
                                concurrency=concurrency)
    state.trustees[user.casefold()] = resolved
    rows = [PermRow(0, box.requested, user, right, "revoke")
            for box in sorted(state.mailboxes.values(), key=lambda b: b.key.casefold())
            for right in RIGHTS if resolved.holds(box.holders(right))]
    return [PermRow(n, r.mailbox, r.trustee, r.right, r.action)
            for n, r in enumerate(rows, start=1)], state


@perms.command()
@click.argument("mailbox")
@click.argument("trustee")
@_right_option
@click.option("--automapping/--no-automapping", default=None,
              help="FullAccess only: open the mailbox in the trustee's Outlook "
              "automatically (Exchange's default is on). Changing it on an existing grant "
              "removes and grants again.")
@_dry_run_option
@click.pass_obj
def grant(app: AppContext, mailbox: str, trustee: str, rights: tuple[str, ...],
          automapping: bool | None, dry_run: bool) -> None:
    """Give TRUSTEE a right on MAILBOX. Re-running is harmless: an existing grant is
    reported as unchanged.

    \b
    Examples:
      psbridge perms grant sales@contoso.com adele.vance@contoso.com --right FullAccess
      psbridge perms grant sales@contoso.com debra.berger@contoso.com --right SendAs \\
          --right SendOnBehalf
      psbridge perms grant sales@contoso.com alex.wilber@contoso.com --right FullAccess \\
          --no-automapping
    """
    rows = _single_rows(mailbox, trustee, rights, "grant", automapping)
    _change(app, "perms grant", rows, dry_run=dry_run, concurrency=1, chunk_size=25,
            results_path=None, single=True)


@perms.command()
@click.argument("mailbox")
@click.argument("trustee")
@_right_option
@_dry_run_option
@click.pass_obj
def revoke(app: AppContext, mailbox: str, trustee: str, rights: tuple[str, ...],
           dry_run: bool) -> None:
    """Take a right on MAILBOX away from TRUSTEE. A right not held is reported as unchanged.

    \b
    Examples:
      psbridge perms revoke sales@contoso.com adele.vance@contoso.com --right FullAccess
      psbridge --tenant fabrikam.onmicrosoft.com perms revoke \\
          office@fabrikam.com ana.bowman@fabrikam.com --right SendAs
    """
    rows = _single_rows(mailbox, trustee, rights, "revoke", None)
    _change(app, "perms revoke", rows, dry_run=dry_run, concurrency=1, chunk_size=25,
            results_path=None, single=True)


@perms.command()
@click.argument("csv_path", metavar="FILE.csv",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_dry_run_option
@concurrency_option
@distributed_option
@click.pass_obj
def apply(app: AppContext, csv_path: Path, dry_run: bool, concurrency: int | None,
          chunk_size: int, results_path: Path | None, distributed: bool) -> None:
    """Grant and revoke in bulk from a CSV: Mailbox,Trustee,Right,Action[,AutoMapping].

    Right is FullAccess, SendAs or SendOnBehalf (any case); the legacy words
    GrantFullAccess, GrantSendAs, GrantSendOnBehalfOf, RemoveFullAccess, RemoveSendAs and
    RemoveSendOnBehalfOf imply the action. Action is grant or revoke (grant when empty).
    AutoMapping (true/false) applies to FullAccess grants. The file may be UTF-8 (BOM or
    not) or UTF-16, with commas, semicolons or tabs.

    The whole file is checked first (every problem listed by line and column, exit 2,
    nothing changed). Then the current permissions of the mailboxes named are read, rows
    already true are dropped, and the rest is applied, grouped by mailbox, as a resumable
    job ('psbridge jobs resume ID' after a crash or Ctrl-C).

    \b
    Examples:
      psbridge perms apply grants.csv --dry-run
      psbridge perms apply grants.csv --results outcome.csv
      psbridge --tenant fabrikam.onmicrosoft.com perms apply fabrikam.csv
      psbridge perms apply grants.csv --distributed
    """
    from toolkit.tasks.permission_rows import PermissionCsv

    csv = PermissionCsv(csv_path)
    rows = csv.read()
    _change(app, "perms apply", rows, dry_run=dry_run, concurrency=concurrency,
            chunk_size=chunk_size, results_path=results_path, csv=csv,
            distributed=distributed)


@perms.command("revoke-all")
@click.argument("user")
@_dry_run_option
@concurrency_option
@click.pass_obj
def revoke_all(app: AppContext, user: str, dry_run: bool, concurrency: int | None,
               chunk_size: int, results_path: Path | None) -> None:
    """Offboarding: remove every FullAccess, SendAs and SendOnBehalf right USER holds.

    Reads the permissions of every mailbox of the tenant for USER, then revokes what it
    finds as a resumable job.

    \b
    Examples:
      psbridge perms revoke-all debra.berger@contoso.com --dry-run
      psbridge perms revoke-all debra.berger@contoso.com --results offboarding.csv
    """
    user = _address(user, "USER", orphan_ok=True)
    _change(app, "perms revoke-all", [], dry_run=dry_run, concurrency=concurrency,
            chunk_size=chunk_size, results_path=results_path, revoke_all=user)
