"""``psbridge perms grant|revoke|apply|revoke-all``: changing mailbox permissions.

Every command takes the same path through the API (``ws.perms``): requested rows -> read
the mailboxes involved -> plan (only real changes, grouped by mailbox) -> shown here ->
the runner and the journal (resumable).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from toolkit.api.results import mixed_scripts
from toolkit.cli.context import AppContext
from toolkit.cli.jobrun import concurrency_option, distributed_option
from toolkit.cli.output import emit

if TYPE_CHECKING:
    from toolkit.api import JobRun, Workspace
    from toolkit.api.perms import Plan, Request

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


def change_shown(app: AppContext, plan: Callable[[Workspace], Request], *, dry_run: bool,
                 concurrency: int | None, chunk_size: int, results_path: Path | None,
                 single: bool = False, distributed: bool = False) -> None:
    """Plan (through ``plan``), show, and (unless --dry-run) apply as a job."""
    from toolkit.cli.jobrun import run_shown

    with app.workspace() as ws:
        request = plan(ws)
        _show_plan(app, request.plan, dry_run=dry_run, single=single)
        unchanged = len(request.plan.unchanged)
        already = f"{unchanged} already so" if unchanged else ""
        if dry_run:
            click.echo(f"dry run: {len(request.plan.changes)} change(s)"
                       + (f", {already}" if already else "") + "; nothing was changed",
                       err=True)
            return
        if not request.plan.changes:
            click.echo(f"nothing to change: {unchanged} unchanged", err=True)
            if app.output != "table":
                emit(app, [{"job": None, "status": "unchanged", "rows": unchanged,
                            "seconds": 0}], ["job", "status", "rows", "seconds"])
            ws.perms.run(request, results=results_path)  # writes the results file only
            return
        if already:
            click.echo(f"{already} (unchanged, not sent)", err=True)

        def run() -> JobRun:
            ran = ws.perms.run(request, concurrency=concurrency, chunk_size=chunk_size,
                               results=results_path, distributed=distributed).run
            assert ran is not None  # there were changes to run
            return ran

        run_shown(app, ws, request.task, run)


@click.command()
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
    change_shown(app, lambda ws: ws.perms.plan_grant(mailbox, trustee, rights,
                                                     automapping=automapping, dry_run=dry_run),
                 dry_run=dry_run, concurrency=1, chunk_size=25, results_path=None, single=True)


@click.command()
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
    change_shown(app, lambda ws: ws.perms.plan_revoke(mailbox, trustee, rights, dry_run=dry_run),
                 dry_run=dry_run, concurrency=1, chunk_size=25, results_path=None, single=True)


@click.command()
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
    change_shown(app, lambda ws: ws.perms.plan_apply(csv_path, dry_run=dry_run,
                                                     concurrency=concurrency),
                 dry_run=dry_run, concurrency=concurrency, chunk_size=chunk_size,
                 results_path=results_path, distributed=distributed)


@click.command("revoke-all")
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
    change_shown(app, lambda ws: ws.perms.plan_revoke_all(user, dry_run=dry_run,
                                                          concurrency=concurrency),
                 dry_run=dry_run, concurrency=concurrency, chunk_size=chunk_size,
                 results_path=results_path)
