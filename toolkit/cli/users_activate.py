"""``psbridge users activate``: a CSV of users switched on with their licences."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from toolkit.cli.credentials import Credentials, refuse_existing, report_undelivered
from toolkit.cli.jobrun import concurrency_option, end_dry_run, execute
from toolkit.cli.main import AppContext
from toolkit.cli.output import emit
from toolkit.cli.users import users
from toolkit.core.errors import PartialFailure

if TYPE_CHECKING:
    from toolkit.core.jobs import JobPlan
    from toolkit.core.journal import Job
    from toolkit.core.runner import RowResult
    from toolkit.core.target import Target
    from toolkit.core.templates import TemplateCatalog
    from toolkit.tasks.activation_plan import RowPlan

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
    from toolkit.tasks.activation_countries import usage_location

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


def _plan_rows(plans: list[RowPlan]) -> list[dict[str, Any]]:
    return [{"row": p.line, "user": p.upn, "account": p.target_upn,
             "plan": "; ".join(p.steps), "notes": "; ".join(p.notes),
             "status": f"failed: {p.error}" if p.error else "ok"} for p in plans]


@users.command()
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
@click.pass_obj
def activate(app: AppContext, csv_path: Path, dry_run: bool, dialect: None,
             usage_location: str | None, licenses: tuple[str, ...],
             credentials_out: Path | None, mailbox_timeout: float, concurrency: int | None,
             chunk_size: int, results_path: Path | None) -> None:
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

    \b
    Examples:
      psbridge users activate new-hires.csv --dry-run
      psbridge users activate new-hires.csv --usage-location US --license ENTERPRISEPACK
      psbridge users activate new-hires.csv --credentials-out creds.csv --mailbox-timeout 1h
    """
    from toolkit.core.config import resolve_profile
    from toolkit.core.jobs import check_role
    from toolkit.core.target import open_target
    from toolkit.core.templates import TemplateCatalog
    from toolkit.tasks import activation

    data = activation.read_input(csv_path)
    refuse_existing(credentials_out)
    report_undelivered()
    defaults = activation.Defaults(usage_location, tuple(licenses))
    catalog = TemplateCatalog()
    with open_target(resolve_profile(app.profile_name), app.tenant) as target:
        check_role(catalog.meta(activation.TEMPLATE), target)
        plan, plans = activation.plan_job(target, catalog, data, defaults)
        if dry_run:
            emit(app, _plan_rows(plans), ["row", "user", "account", "plan", "notes", "status"],
                 title=f"Plan for {len(plans)} row(s); nothing was changed")
            end_dry_run(len(plans), sum(1 for p in plans if p.error))
            return
        for row_plan in plans:
            for note in row_plan.notes:
                click.echo(f"row {row_plan.line} ({row_plan.upn}): {note}", err=True)
        refused = sum(1 for p in plans if p.error)
        if refused:
            click.echo(f"{refused} row(s) refused while planning (nothing is changed for "
                       "them): see the failed rows below", err=True)
        _Run(app, target, catalog, credentials_out, mailbox_timeout,
             {"concurrency": concurrency, "chunk_size": chunk_size,
              "results_path": results_path}).go(plan, plans)


class _Run:
    """The job, the wait for mailboxes, the second pass, and the credentials."""

    def __init__(self, app: AppContext, target: Target, catalog: TemplateCatalog,
                 credentials_out: Path | None, mailbox_timeout: float,
                 settings: dict[str, Any]):
        self.app = app
        self.target = target
        self.catalog = catalog
        self.credentials = Credentials(credentials_out)
        self.mailbox_timeout = mailbox_timeout
        self.settings = settings
        self.plans: dict[int, RowPlan] = {}
        self.status: dict[int, str] = {}
        self.job: Job | None = None

    def _started(self, job: Job) -> None:
        self.job = job

    def _results(self, results: list[RowResult]) -> None:
        for result in results:
            self.status[result.row] = result.status
            plan = self.plans.get(result.row)
            # Handed out once the account was switched on with it (the template says so),
            # even when a later step of the row failed.
            if (plan is not None and plan.password_generated and plan.password
                    and result.fields.get("Enabled") is True):
                self.credentials.add(plan.target_upn, plan.password)

    def _execute(self, plan: JobPlan, plans: list[RowPlan], **resume: Any
                 ) -> PartialFailure | None:
        self.plans.update({p.line: p for p in plans})
        self.credentials.keep((p.target_upn, p.password) for p in plans
                              if p.password and p.password_generated and not p.error)
        try:
            execute(self.app, self.target, self.catalog, plan, **self.settings, **resume,
                    on_results=self._results, on_start=self._started)
        except PartialFailure as failure:
            return failure
        return None

    def go(self, plan: JobPlan, plans: list[RowPlan]) -> None:
        from toolkit.core.journal import Journal
        from toolkit.tasks import activation
        from toolkit.tasks.tenant_reads import wait_for_mailboxes

        try:
            failure = self._execute(plan, plans)
            waiting = self._waiting()
            if waiting and self.mailbox_timeout > 0 and self.job is not None:
                click.echo(f"waiting up to {self.mailbox_timeout:.0f}s for the mailbox of "
                           f"{len(waiting)} user(s), to add their aliases", err=True)
                arrived = wait_for_mailboxes(self.target, self.catalog,
                                             [self.plans[r].target_upn for r in waiting],
                                             self.mailbox_timeout)
                if arrived:
                    with Journal() as journal:
                        resumption, replans = activation.replan(
                            self.job, journal, self.target, self.catalog, new_passwords=True)
                    failure = self._execute(resumption.plan, replans, resume=self.job,
                                            skip_rows=tuple(sorted(resumption.skip_rows))
                                            ) or failure
        finally:
            self.credentials.finish(self.app)
        still = self._waiting()
        if still and self.job is not None:
            raise PartialFailure(
                f"{len(still)} row(s) pending mailbox (job {self.job.id}): their aliases "
                "are added once the mailbox exists",
                hint=f"Later: psbridge jobs resume {self.job.id}")
        if failure is not None:
            raise failure

    def _waiting(self) -> list[int]:
        return sorted(r for r, s in self.status.items() if s == "waiting")
