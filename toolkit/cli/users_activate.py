"""``psbridge users activate``: a CSV of users switched on with their licences."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from toolkit.cli.context import AppContext
from toolkit.cli.credentials import Credentials, refuse_existing, report_undelivered
from toolkit.cli.jobrun import concurrency_option, distributed_option, end_dry_run
from toolkit.cli.output import emit
from toolkit.core.errors import PartialFailure

if TYPE_CHECKING:
    from toolkit.api import JobRun
    from toolkit.api.users import ActivationRequest

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$", re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600}


class Duration(click.ParamType):
    """``90s``, ``30m``, ``2h`` or plain seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        match = _DURATION.match(str(value))
        if match is None:
            self.fail(f"{value!r} is not a duration such as 90s, 30m or 2h", param, ctx)
        return float(match.group(1)) * _UNIT[(match.group(2) or "s").lower()]


def _usage_location(ctx: click.Context, param: click.Parameter, value: str | None
                    ) -> str | None:
    from toolkit.api.users import usage_location

    if value is None:
        return None
    try:
        return usage_location(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _retired_dialect(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Old runbooks pass --dialect msonline: say why it is gone instead of "no such option"."""
    if value is not None and value != "graph":
        raise click.BadParameter(
            "Microsoft retired the MSOnline module (and Azure AD Graph) in 2025; psbridge "
            "activates users through Microsoft Graph only. Drop --dialect.")


def _plan_rows(request: ActivationRequest) -> list[dict[str, Any]]:
    return [{"row": p.line, "user": p.upn, "account": p.target_upn,
             "plan": "; ".join(p.steps), "notes": "; ".join(p.notes),
             "status": f"failed: {p.error}" if p.error else "ok"} for p in request.rows]


@click.command()
@click.argument("csv_path", metavar="FILE.csv",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Read the tenant and print every row's plan; change nothing.")
@click.option("--dialect", hidden=True, callback=_retired_dialect,
              help="Retired: users are activated through Microsoft Graph only.")
@click.option("--usage-location", metavar="XX", callback=_usage_location,
              help="ISO 3166 country code for rows without a UsageLocation.")
@click.option("--license", "licenses", metavar="SKU", multiple=True,
              help="SKU part number (repeatable) for rows without a Licenses cell.")
@click.option("--credentials-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the temporary passwords to this new file (mode 0600) instead of "
              "showing them on screen.")
@click.option("--mailbox-timeout", type=Duration(), default="30m", show_default=True,
              help="How long rows with aliases wait for their mailbox (e.g. 90s, 30m, 2h); "
              "rows still waiting are finished with 'psbridge jobs resume'.")
@concurrency_option
@distributed_option
@click.pass_obj
def activate(app: AppContext, csv_path: Path, dry_run: bool, dialect: None,
             usage_location: str | None, licenses: tuple[str, ...],
             credentials_out: Path | None, mailbox_timeout: float, concurrency: int | None,
             chunk_size: int, results_path: Path | None, distributed: bool) -> None:
    """Activate the users of FILE.csv: link or create, usage location, licences, enable,
    temporary password, aliases.

    \b
    Columns: UserPrincipalName (required), DisplayName, FirstName, LastName,
    UsageLocation (ISO 3166, e.g. US), Licenses (SKU part numbers, ';' between),
    Password, Aliases (addresses, ';' between), Enabled (default true).

    Each user is looked up by UPN and linked, or created (on the tenant's
    .onmicrosoft.com domain when the UPN's domain is not verified; the plan says so).
    The usage location is set before any licence, only missing licences are added, and
    free seats are handed out in CSV order: a row beyond a SKU's free seats fails as a
    whole before anything is changed. Accounts created or switched on get the Password
    cell or a generated temporary password, to be changed at first sign-in; generated ones
    are shown once at the end, or only written to --credentials-out. Rows with aliases wait
    for the mailbox the licence brings (up to --mailbox-timeout); rows still waiting are
    recorded as pending mailbox and finished by 'psbridge jobs resume JOB'.
    With --distributed the workers run the first pass (the passwords travel sealed with
    the queue key); the mailbox wait and the rows that waited are finished here.

    \b
    Examples:
      psbridge users activate new-hires.csv --dry-run
      psbridge users activate new-hires.csv --usage-location US --license ENTERPRISEPACK
      psbridge users activate new-hires.csv --credentials-out creds.csv --mailbox-timeout 1h
      psbridge users activate new-hires.csv --credentials-out creds.csv --distributed
    """
    from toolkit.api.users import read_activation
    from toolkit.cli.jobrun import run_shown

    data = read_activation(csv_path)  # every problem of the file before anything else
    refuse_existing(credentials_out)
    report_undelivered()
    with app.workspace() as ws:
        request = ws.users.plan_activate(data, usage_location=usage_location,
                                         licenses=licenses, dry_run=dry_run)
        plans = request.rows
        if dry_run:
            emit(app, _plan_rows(request), ["row", "user", "account", "plan", "notes", "status"],
                 title=f"Plan for {len(plans)} row(s); nothing was changed")
            end_dry_run(len(plans), len(request.refused))
            return
        for row_plan in plans:
            for note in row_plan.notes:
                click.echo(f"row {row_plan.line} ({row_plan.upn}): {note}", err=True)
        if request.refused:
            click.echo(f"{len(request.refused)} row(s) refused while planning (nothing is "
                       "changed for them): see the failed rows below", err=True)
        credentials = Credentials(credentials_out)

        def reported(run: Callable[[], JobRun]) -> PartialFailure | None:
            """One pass with its progress and summary; its failure, kept for the end."""
            try:
                run_shown(app, ws, request.job.task, run)
            except PartialFailure as failure:
                return failure
            return None

        settings: dict[str, Any] = {"concurrency": concurrency, "chunk_size": chunk_size,
                                    "results": results_path}
        with ws.users.start(request, credentials.add) as run:
            try:
                failure = reported(lambda: run.run(**settings, distributed=distributed))
                waiting = run.waiting()
                if waiting and mailbox_timeout > 0 and run.job is not None:
                    click.echo(f"waiting up to {mailbox_timeout:.0f}s for the mailbox of "
                               f"{len(waiting)} user(s), to add their aliases", err=True)
                    if run.wait_for_mailboxes(mailbox_timeout):
                        failure = reported(lambda: run.finish_waiting(**settings)) or failure
            finally:
                credentials.finish(app)
            still = run.waiting()
        if still and run.job is not None:
            raise PartialFailure(
                f"{len(still)} row(s) pending mailbox (job {run.job.id}): their aliases "
                "are added once the mailbox exists",
                hint=f"Later: psbridge jobs resume {run.job.id}")
        if failure is not None:
            raise failure
