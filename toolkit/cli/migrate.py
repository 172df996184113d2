"""``psbridge migrate imap``: POP/IMAP mailboxes into Exchange Online, from a CSV.

Thin: options are parsed here, the work is ``ws.migrations``'s (the CSV, the plan, the
batches, reports and checks).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from toolkit.api.migrations import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_USERS,
    SECURITY_CHOICES,
    BatchState,
    MigrationOptions,
    MigrationRequest,
)
from toolkit.cli.context import AppContext
from toolkit.cli.output import emit, outcome
from toolkit.core.errors import InputError, PartialFailure

CSV_PATH = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def migrate() -> None:
    """Migrations into Exchange Online."""


@migrate.group()
def imap() -> None:
    """Mailboxes from Gmail or an old IMAP/POP host, driven by a CSV.

    \b
    The CSV is today's format (EmailAddress,UserName,Password[,UserRoot]) or the legacy
    POP-era one (SourceIdentity,SourceServer,SourceLoginID,SourcePassword,TargetIdentity);
    POP hosts of known providers are mapped to their IMAP host.

    \b
    Typical run:
      psbridge migrate imap test --server imap.gmail.com
      psbridge migrate imap plan users.csv --gmail
      psbridge migrate imap start users.csv --gmail --batch gmail-wave1
      psbridge migrate imap status gmail-wave1 --watch
      psbridge migrate imap report gmail-wave1 --out wave1.html
      psbridge migrate imap remove gmail-wave1 --yes   # when users have switched over
    """


# ---------------------------------------------------------------------- shared


def _source_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--server", metavar="HOST",
                     help="The IMAP server (needed for today's format; for the legacy format "
                     "it replaces every row's SourceServer)."),
        click.option("--port", type=click.IntRange(1, 65535), default=993, show_default=True,
                     help="IMAP port, for servers not in the provider table."),
        click.option("--security", type=click.Choice(SECURITY_CHOICES), default="ssl",
                     show_default=True, help="IMAP security, for servers not in the table."),
        click.option("--gmail", is_flag=True,
                     help="Gmail: imap.gmail.com, port 993, SSL, and exclude the system "
                     "folders that only repeat labelled mail (All Mail, Important, Starred, "
                     "Spam, Trash, under [Gmail] or [Google Mail]); Sent Mail and Drafts "
                     "are moved. Archived mail with no label is not."),
        click.option("--gmail-all-mail", is_flag=True,
                     help="With --gmail: also move [Gmail]/All Mail, so archived mail "
                     "arrives too, and every labelled message twice."),
        click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_USERS),
                     default=DEFAULT_BATCH_SIZE, show_default=True,
                     help="Users per batch (batches also stay under 10 MB of CSV data)."),
        click.option("--exclude-folder", "exclude_folders", multiple=True, metavar="FOLDER",
                     help="A source folder not to migrate (repeatable)."),
        click.option("--add-users", is_flag=True,
                     help="When the batch exists, put the CSV's users that are in no batch "
                     "yet into new batches NAME-2, NAME-3..."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _options(server: str | None, port: int, security: str, gmail: bool, gmail_all_mail: bool,
             batch_size: int, exclude_folders: tuple[str, ...], add_users: bool,
             notify: tuple[str, ...] = (), auto_start: bool = True) -> MigrationOptions:
    if gmail_all_mail and not gmail:
        raise click.BadParameter("needs --gmail", param_hint="--gmail-all-mail")
    return MigrationOptions(server=server, port=port, security=security, gmail=gmail,
                            gmail_all_mail=gmail_all_mail,
                            batch_size=batch_size, exclude_folders=exclude_folders,
                            notify=notify, auto_start=auto_start, add_users=add_users)


def _print_plan(app: AppContext, request: MigrationRequest) -> None:
    """The plan's warnings, batches and what already exists."""
    source, options, plan = request.source, request.options, request.plan
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    if app.output == "table":
        click.echo(f"{source.path}: {len(source.rows)} user(s), {source.format_name} format")
    def endpoint(name: str) -> str:
        return f"{name} ({'new' if name in plan.new_endpoints else 'reused'})"

    rows = [{"batch": b.name, "server": str(b.server), "endpoint": endpoint(b.endpoint),
             "users": len(b.rows), "csv_bytes": b.size,
             "excluded_folders": list(options.folders_excluded)} for b in plan.batches]
    if rows:
        emit(app, rows, ["batch", "server", "endpoint", "users", "csv_bytes",
                         "excluded_folders"], title="Plan")
    if app.output != "table":
        return
    for name, status in plan.existing.items():
        click.echo(f"batch {name} exists ({status})")
    if plan.existing and not options.add_users:
        click.echo("nothing to create: the batch exists; --add-users puts the CSV's users "
                   "that are in no batch yet into new batches")
    elif plan.already_in_family:
        click.echo(f"{plan.already_in_family} user(s) already in the batch: left as they are")


# ---------------------------------------------------------------------- test


@imap.command("test")
@click.option("--server", required=True, metavar="HOST", help="The IMAP server.")
@click.option("--port", type=click.IntRange(1, 65535), default=993, show_default=True)
@click.option("--security", type=click.Choice(SECURITY_CHOICES), default="ssl",
              show_default=True)
@click.option("--user", metavar="USER", help="Also sign in as this IMAP user (from this "
              "machine) to check the credentials.")
@click.option("--password-env", metavar="VAR", help="Environment variable holding --user's "
              "password (passwords are never given on the command line).")
@click.pass_obj
def test(app: AppContext, server: str, port: int, security: str, user: str | None,
         password_env: str | None) -> None:
    """Can Exchange Online reach this IMAP server? (Test-MigrationServerAvailability)

    Exit 0 when it can, 1 when it cannot (the reason is printed). A POP host of a known
    provider is tested as its IMAP host. With --user, psbridge also signs in to the IMAP
    server from this machine (Exchange's test checks the server, never a login): exit 1
    when the server refuses the credentials.

    \b
    Examples:
      psbridge migrate imap test --server imap.gmail.com
      psbridge migrate imap test --server mail.example.com --port 143 --security tls
      IMAP_PW=... psbridge migrate imap test --server imap.gmail.com \\
          --user ann@gmail.com --password-env IMAP_PW
    """
    import os

    password = os.environ.get(password_env or "") if password_env else None
    if (user is None) != (password_env is None):
        raise InputError("--user and --password-env go together")
    if password_env is not None and password is None:
        raise InputError(f"--password-env {password_env}: the variable is not set")
    with app.workspace() as ws:
        source = ws.migrations.source_server(server, port, security)
        if source.pop_host is not None:
            click.echo(f"warning: {server} is a POP server; testing its IMAP server {source}",
                       err=True)
        checks = ws.migrations.test_endpoint(source, user=user, password=password)
    if app.output != "table":
        emit(app, [{"server": c.server, "check": c.check, "ok": c.ok} for c in checks],
             ["server", "check", "ok"])
        return
    for check in checks:
        click.echo(f"{check.server}: {check.check}")


# ---------------------------------------------------------------------- plan, start


@imap.command()
@click.argument("csv_path", type=CSV_PATH)
@_source_options
@click.option("--batch", "batch", metavar="NAME",
              help="Batch name (default: from the file name).")
@click.pass_obj
def plan(app: AppContext, csv_path: Path, server: str | None, port: int, security: str,
         gmail: bool, gmail_all_mail: bool, batch_size: int, exclude_folders: tuple[str, ...],
         add_users: bool, batch: str | None) -> None:
    """Check a migration CSV against the tenant and show the batches; create nothing.

    Pre-flight: every target mailbox exists and is licensed, no address appears twice or
    is already in another batch, no empty credentials, batch name rules. Exit 2 on any
    problem (each listed with its line).

    \b
    Examples:
      psbridge migrate imap plan users.csv --gmail
      psbridge migrate imap plan legacy-pop.csv --batch wave1
      psbridge migrate imap plan users.csv --server mail.example.com --port 143 --security tls
    """
    options = _options(server, port, security, gmail, gmail_all_mail, batch_size,
                       exclude_folders, add_users)
    with app.workspace() as ws:
        request = ws.migrations.plan(csv_path, batch=batch, options=options)
        _print_plan(app, request)
        ws.migrations.refuse_problems(request)
    planned = request.plan
    if planned.batches and app.output == "table":
        click.echo(f"ok: {planned.users} user(s) in {len(planned.batches)} batch(es); run "
                   "'psbridge migrate imap start' with the same options and --batch to create "
                   "them")


@imap.command()
@click.argument("csv_path", type=CSV_PATH)
@_source_options
@click.option("--batch", "batch", required=True, metavar="NAME",
              help="Batch name (further batches of a split are NAME-2, NAME-3...).")
@click.option("--auto-start/--no-auto-start", default=True, show_default=True,
              help="Start each batch as soon as it is created.")
@click.option("--notify", multiple=True, metavar="EMAIL",
              help="Who receives the batch reports (repeatable).")
@click.pass_obj
def start(app: AppContext, csv_path: Path, server: str | None, port: int, security: str,
          gmail: bool, gmail_all_mail: bool, batch_size: int,
          exclude_folders: tuple[str, ...], add_users: bool, batch: str, auto_start: bool,
          notify: tuple[str, ...]) -> None:
    """Plan, then create the endpoint(s) and batches and start them.

    The CSV goes to Exchange as the -CSVData byte array of New-MigrationBatch; passwords
    never appear in the script, the job store, the output or any report. Safe to re-run:
    a batch that exists is reported and left alone (--add-users adds new users only).
    Exit 2 when the plan has problems (nothing is created), 1 when a batch failed.

    \b
    Examples:
      psbridge migrate imap start users.csv --gmail --batch gmail-wave1
      psbridge migrate imap start legacy.csv --gmail --batch wave1 --notify it@contoso.com
      psbridge migrate imap start users.csv --gmail --batch gmail-wave1 --add-users
    """
    from toolkit.cli.jobrun import run_shown

    options = _options(server, port, security, gmail, gmail_all_mail, batch_size,
                       exclude_folders, add_users, notify, auto_start)
    with app.workspace() as ws:
        request = ws.migrations.plan(csv_path, batch=batch, options=options)
        _print_plan(app, request)
        ws.migrations.refuse_problems(request)
        if not request.plan.batches:
            click.echo("nothing changed", err=app.output != "table")
            return
        if app.verbose:
            preview = ws.migrations.preview(request)
            click.echo(f"template {preview.template}:", err=True)
            click.echo(preview.script, err=True, nl=False)
            for number, shown in preview.rows:
                click.echo(f"row {number}: {shown}", err=True)
        run_shown(app, ws, ws.migrations.task(request), lambda: ws.migrations.run(request))
    if app.output == "table":
        click.echo(f"follow it with: psbridge migrate imap status {request.plan.base_name} "
                   "--watch")


# ---------------------------------------------------------------------- status, report


def _print_status(app: AppContext, batches: Sequence[BatchState], as_json: bool) -> None:
    batch_rows = [{"batch": b.name, "status": b.status, "users": len(b.users),
                   "synced": b.counts["synced"], "failed": b.counts["failed"],
                   "active": b.counts["active"] + b.counts["stopped"],
                   "items": f"{b.items_synced}/{b.items_total}"} for b in batches]
    user_rows = [u.report_row() for b in batches for u in b.users]
    if as_json or app.output == "json":
        json.dump({"batches": batch_rows, "users": user_rows}, sys.stdout, indent=2,
                  default=str)
        sys.stdout.write("\n")
        return
    emit(app, batch_rows, ["batch", "status", "users", "synced", "failed", "active", "items"],
         title="Batches")
    emit(app, user_rows, ["batch", "email", "status", "items_synced", "items_skipped",
                          "last_sync", "error"], title="Users")


@imap.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--watch", is_flag=True,
              help="Follow until every user has synced or failed; exit 0 when all synced, "
              "1 when any failed.")
@click.option("--interval", type=click.FloatRange(0.1), default=15.0, show_default=True,
              help="Seconds between polls with --watch.")
@click.option("--timeout", type=click.FloatRange(1), default=None,
              help="Give up watching after this many seconds (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (batches and users).")
@click.pass_obj
def status(app: AppContext, names: tuple[str, ...], watch: bool, interval: float,
           timeout: float | None, as_json: bool) -> None:
    """Batches and every user's state, item counts and errors.

    NAME selects a batch and the batches split off from it (NAME-2, NAME-3...); with no
    NAME, every batch. With --watch, a progress bar per batch on a terminal (a plain line
    per change otherwise) until every user is synced or failed.

    \b
    Examples:
      psbridge migrate imap status
      psbridge migrate imap status gmail-wave1 --watch
      psbridge migrate imap status gmail-wave1 --json
    """
    from toolkit.cli.migration_progress import BatchWatch

    if not watch:
        with app.workspace() as ws:
            batches = ws.migrations.status(names)
        _print_status(app, batches, as_json)
        return
    with app.workspace() as ws, BatchWatch() as display:
        watched = ws.migrations.watch(names, interval=interval, timeout=timeout,
                                      on_poll=display.show)
    _print_status(app, watched.batches, as_json)
    summary = watched.summary
    if not watched.settled:
        raise PartialFailure(f"still migrating after {timeout:.0f}s: {summary}",
                             hint="Watch again later; the migration goes on without you.")
    if not watched.ok:
        resume = " and ".join(f"'psbridge migrate imap resume {name}'"
                              for name in watched.failed)
        raise PartialFailure(summary, hint=f"The error column says why; fix the cause and run "
                             f"{resume} to retry failed users. For a wrong source password, "
                             "add --credentials FILE: a CSV of their rows with the right "
                             "password.")
    click.echo(f"all synced: {summary}")


@imap.command()
@click.argument("name")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Report file: .csv, .json or .html.")
@click.pass_obj
def report(app: AppContext, name: str, out: Path) -> None:
    """Per-user report of a batch (and its split-off batches): state, items synced and
    skipped, last sync, error.

    \b
    Examples:
      psbridge migrate imap report gmail-wave1 --out wave1.csv
      psbridge migrate imap report gmail-wave1 --out wave1.html
    """
    with app.workspace() as ws:
        written = ws.migrations.report(name, out)
    outcome(app, f"wrote {written.users} user(s) of {written.batches} batch(es) to {out}",
            {"batch": name, "users": written.users, "batches": written.batches,
             "report": str(out)})


# ---------------------------------------------------------------------- stop, resume, remove


def _act(app: AppContext, name: str, action: str, credentials: Path | None = None) -> None:
    """Stop, start (with ``credentials``: the failed users' corrected rows) or remove the
    batch ``name`` and those split off from it; print Exchange's answer per batch; exit 1
    when a batch refused."""
    with app.workspace() as ws:
        act = {"stop": ws.migrations.stop,
               "start": lambda n: ws.migrations.resume(n, credentials=credentials),
               "remove": ws.migrations.remove}[action]
        actions = act(name)
    emit(app, [{"batch": a.batch, "ok": a.ok, "status": a.status, "message": a.message}
               for a in actions], ["batch", "ok", "status", "message"])
    failed = [a for a in actions if not a.ok]
    if failed:
        raise PartialFailure(f"{len(failed)} of {len(actions)} batch(es) refused to {action}")


@imap.command()
@click.argument("name")
@click.pass_obj
def stop(app: AppContext, name: str) -> None:
    """Stop a batch (Stop-MigrationBatch); 'resume' starts it again.

    \b
    Example:
      psbridge migrate imap stop gmail-wave1
    """
    _act(app, name, "stop")


@imap.command()
@click.argument("name")
@click.option("--credentials", type=CSV_PATH, metavar="CSV",
              help="Corrected source credentials for failed users: their rows, in the "
              "batch's CSV format (today's or the legacy one), with the right password.")
@click.pass_obj
def resume(app: AppContext, name: str, credentials: Path | None) -> None:
    """Start a stopped or not-yet-started batch (Start-MigrationBatch); failed users are
    retried, users that synced are left as they are.

    With --credentials, the rows of the file replace those users' rows in their batch
    (Set-MigrationBatch -CSVData; passwords go to Exchange only, never into a script,
    the output or a log) and their batches are started. Every row must be a failed user
    of the batch (or of a batch split off from it): exit 2 listing each row that is not,
    nothing changed.

    \b
    Examples:
      psbridge migrate imap resume gmail-wave1
      psbridge migrate imap resume wave1 --credentials fixed.csv
    """
    _act(app, name, "start", credentials)


@imap.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def remove(app: AppContext, name: str, yes: bool) -> None:
    """Remove a batch (Remove-MigrationBatch), ending its daily incremental sync.

    IMAP batches have no completion step: after the first sync they re-sync about once a
    day until removed. Remove the batch once users work in Exchange Online and mail no
    longer arrives at the old server; mail already migrated stays.

    \b
    Example:
      psbridge migrate imap remove gmail-wave1 --yes
    """
    click.echo(f"Removing {name} ends its daily incremental sync: mail that reaches the old "
               "server afterwards is not copied. Mail already migrated stays.", err=True)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("remove needs confirmation", hint="Add --yes.")
        click.confirm(f"Remove migration batch {name}?", abort=True, err=True)
    _act(app, name, "remove")
