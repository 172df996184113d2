"""``psbridge mailbox``: mailbox settings in bulk."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cli.jobrun import concurrency_option, execute
from toolkit.cli.main import AppContext
from toolkit.core.errors import InputError

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
    from toolkit.core.config import resolve_profile
    from toolkit.core.target import open_target
    from toolkit.core.templates import TemplateCatalog
    from toolkit.tasks.mailbox_protocols import (
        plan_for_mailboxes,
        plan_from_csv,
        refuse_unknown_mailboxes,
    )

    pop_value = None if pop is None else pop == "on"
    imap_value = None if imap is None else imap == "on"
    if (csv_path is None) == (not mailboxes):
        raise InputError("give either a CSV file or --mailbox (not both)",
                         hint="psbridge mailbox protocols --help shows examples.")
    if csv_path is None and pop_value is None and imap_value is None:
        raise InputError("nothing to change: give --pop on|off and/or --imap on|off")
    plan = (plan_from_csv(csv_path, pop_value, imap_value) if csv_path is not None
            else plan_for_mailboxes(mailboxes, pop_value, imap_value))
    catalog = TemplateCatalog()
    with open_target(resolve_profile(app.profile_name), app.tenant) as target:
        refuse_unknown_mailboxes(target, catalog, plan,
                                 str(csv_path) if csv_path is not None else "--mailbox")
        execute(app, target, catalog, plan, concurrency=concurrency,
                chunk_size=chunk_size, results_path=results_path)
