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
from toolkit.core.errors import PartialFailure


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
    from toolkit.core.config import resolve_profile
    from toolkit.core.target import open_target
    from toolkit.core.templates import TemplateCatalog
    from toolkit.tasks.tenant_reads import read_skus

    with open_target(resolve_profile(app.profile_name), app.tenant) as target:
        skus = read_skus(target, TemplateCatalog())
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
    from toolkit.core.config import resolve_profile
    from toolkit.core.jobs import run_once
    from toolkit.core.target import open_target
    from toolkit.core.templates import TemplateCatalog
    from toolkit.tasks.lookups import unknown_address
    from toolkit.tasks.tenant_reads import read_users
    from toolkit.tasks.users.activation_plan import generate_password

    password = generate_password()
    catalog = TemplateCatalog()
    with open_target(resolve_profile(app.profile_name), app.tenant) as target:
        if not read_users(target, catalog, [user]):
            known = [u.upn for u in read_users(target, catalog).values()]
            raise unknown_address("user", user, target.tenant or "the tenant", known,
                                  hint="Nothing was changed. Give the user's UPN.")
        result = run_once(target, catalog, "graph/reset-password",
                          {"UserId": user, "Password": password, "ForceChange": temporary})
    if result.errors:
        raise PartialFailure(f"{user}: {result.errors[0].message}",
                             hint="Nothing was changed. Check the user name.")
    if app.output != "table":
        emit(app, [{"user": user, "password": password, "must_change": temporary}],
             ["user", "password", "must_change"])
        return
    must = " (must be changed at the next sign-in)" if temporary else ""
    click.echo(f"New password for {user}{must}, shown once:")
    click.echo(f"  {password}")


users.add_command(users_activate.activate)
users.add_command(users_license.license)
