"""``psbridge users``: activate and license users in bulk, reset passwords.

The group is split by concern: ``users activate`` lives in ``users_activate``, the bulk
licence changes (``users license add|remove``) in ``users_license``; both add their
commands to this group.
"""

from __future__ import annotations

import click

from toolkit.cli import users_activate, users_license
from toolkit.cli.context import AppContext
from toolkit.cli.output import emit


@click.group()
def users() -> None:
    """Turn on a batch of users with the right licences, change licences in bulk, and
    reset passwords (the helpdesk task).

    \b
    Examples:
      psbridge users licenses
      psbridge users activate new-hires.csv --dry-run
      psbridge users activate new-hires.csv --usage-location US --license ENTERPRISEPACK
      psbridge users license add --sku EMS --where-license ENTERPRISEPACK
      psbridge users reset-password nora.ahmed@contoso.com --temporary
    """


@users.command()
@click.pass_obj
def licenses(app: AppContext) -> None:
    """The tenant's SKUs: part number, product name, enabled, consumed and free seats.

    Product names come from psbridge's table of the common SKUs (Microsoft's licensing
    service plan reference); others show their part number.
    """
    with app.workspace() as ws:
        skus = ws.users.licenses()
    rows = [{"sku": s.part_number, "name": s.friendly_name, "enabled": s.enabled,
             "consumed": s.consumed, "free": s.free, "sku_id": s.sku_id} for s in skus]
    emit(app, rows, ["sku", "name", "enabled", "consumed", "free", "sku_id"],
         title="Licences")


@users.command("reset-password")
@click.argument("user")
@click.option("--temporary", is_flag=True,
              help="The user must change it at the next sign-in.")
@click.pass_obj
def reset_password(app: AppContext, user: str, temporary: bool) -> None:
    """Give USER (a UPN) a new generated password and print it once.

    Allowed on helpdesk profiles. The password is printed here and nowhere else: not in
    the job store, logs or any file.

    \b
    Examples:
      psbridge users reset-password nora.ahmed@contoso.com --temporary
      psbridge --profile helpdesk users reset-password adele.vance@contoso.com --temporary
    """
    with app.workspace() as ws:
        password = ws.users.reset_password(user, temporary=temporary).password
    if app.output != "table":
        emit(app, [{"user": user, "password": password, "must_change": temporary}],
             ["user", "password", "must_change"])
        return
    must = " (must be changed at the next sign-in)" if temporary else ""
    click.echo(f"New password for {user}{must}, shown once:")
    click.echo(f"  {password}")


users.add_command(users_activate.activate)
users.add_command(users_license.license)
