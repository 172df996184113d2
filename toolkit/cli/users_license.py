"""``psbridge users license add|remove``: one SKU added to or removed from many users."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cli.context import AppContext
from toolkit.cli.jobrun import concurrency_option, end_dry_run, run_shown
from toolkit.cli.output import emit


@click.group()
def license() -> None:
    """Add or remove one SKU for many users, with the free-seat check.

    \b
    Examples:
      psbridge users license add --sku EMS --where-license ENTERPRISEPACK
      psbridge users license add --sku ENTERPRISEPACK --users sales-team.csv --dry-run
      psbridge users license remove --sku EMS --users leavers.csv
    """


def _command(action: str) -> click.Command:
    @click.option("--sku", required=True, metavar="SKU",
                  help="The SKU part number to " + action + " (see 'psbridge users licenses').")
    @click.option("--users", "users_file", metavar="FILE",
                  type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="CSV with a UserPrincipalName column (other columns are ignored).")
    @click.option("--where-license", metavar="SKU",
                  help="Every user who holds this SKU (e.g. extend every E3 user with EMS).")
    @click.option("--dry-run", is_flag=True, help="Print every user's plan; change nothing.")
    @concurrency_option
    @click.pass_obj
    def command(app: AppContext, sku: str, users_file: Path | None,
                where_license: str | None, dry_run: bool, concurrency: int | None,
                chunk_size: int, results_path: Path | None) -> None:
        with app.workspace() as ws:
            request = ws.users.plan_license(action, sku, users_file=users_file,
                                            where_license=where_license)
            plans = request.users
            if dry_run:
                rows = [{"row": p.row, "user": p.upn,
                         "plan": p.step if not p.error else f"failed: {p.error}"}
                        for p in plans]
                emit(app, rows, ["row", "user", "plan"],
                     title=f"Plan for {len(plans)} user(s); nothing was changed")
                end_dry_run(len(plans), len(request.refused), "user(s)")
                return
            if request.refused:
                click.echo(f"{len(request.refused)} user(s) refused while planning (nothing "
                           "is changed for them): see the failed rows below", err=True)
            run_shown(app, ws, request.job.task,
                      lambda: ws.users.run(request.job, concurrency=concurrency,
                                           chunk_size=chunk_size, results=results_path))

    example = ("psbridge users license add --sku EMS --where-license ENTERPRISEPACK"
               if action == "add" else "psbridge users license remove --sku EMS --users "
               "leavers.csv")
    command.__doc__ = (f"{action.capitalize()} --sku for the users of --users FILE or every "
                       "holder of --where-license SKU." + (
                           " Seats are handed out in order; users beyond the free seats "
                           "fail with 'no free seats' before anything is changed."
                           if action == "add" else "")
                       + f"\n\n\b\nExample:\n  {example} --dry-run\n  {example}")
    return license.command(action)(command)


_command("add")
_command("remove")
