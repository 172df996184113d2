"""``psbridge mailbox``: mailbox settings in bulk."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cli.context import AppContext
from toolkit.cli.jobrun import concurrency_option

SWITCH = click.Choice(["on", "off"])


@click.group()
def mailbox() -> None:
    """Mailbox settings in bulk (POP and IMAP client access)."""


@mailbox.command()
@click.argument("csv_path", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mailbox", "mailboxes", multiple=True, metavar="MAILBOX",
              help="A mailbox to change, instead of a CSV (repeatable).")
@click.option("--pop", type=SWITCH, help="POP access; with a CSV, for rows whose Pop is empty.")
@click.option("--imap", type=SWITCH,
              help="IMAP access; with a CSV, for rows whose Imap is empty.")
@concurrency_option
@click.pass_obj
def protocols(app: AppContext, csv_path: Path | None, mailboxes: tuple[str, ...],
              pop: str | None, imap: str | None, concurrency: int | None, chunk_size: int,
              results_path: Path | None) -> None:
    """Switch POP and IMAP client access on or off (Set-CASMailbox), for customers who
    still use POP or IMAP mail clients.

    The CSV has the columns Mailbox, Pop and Imap (on/off, true/false, yes/no; empty leaves
    the setting as it is). Mailboxes already as asked are reported unchanged; the job is
    recorded and resumable ('psbridge jobs resume ID').

    \b
    Examples:
      psbridge mailbox protocols --mailbox adele.vance@contoso.com --pop off --imap on
      psbridge mailbox protocols clients.csv --results out.csv
      psbridge mailbox protocols clients.csv --pop off     # Pop off where the CSV is empty
    """
    from toolkit.cli.jobrun import run_shown

    with app.workspace() as ws:
        plan = ws.mailboxes.plan_protocols(
            csv_path, mailboxes=mailboxes, pop=None if pop is None else pop == "on",
            imap=None if imap is None else imap == "on")
        run_shown(app, ws, plan.task,
                  lambda: ws.mailboxes.run(plan, concurrency=concurrency,
                                           chunk_size=chunk_size, results=results_path))
