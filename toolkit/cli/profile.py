"""``psbridge profile``: connection profiles in the configuration file."""

from __future__ import annotations

from dataclasses import asdict

import click

from toolkit.api import profiles
from toolkit.cli.context import AppContext
from toolkit.cli.output import emit, outcome
from toolkit.core.errors import ConnectionFailed


@click.group()
def profile() -> None:
    """Manage connection profiles (management host, auth, services, tenants).

    Profiles live in a TOML file: PSBRIDGE_CONFIG, else config.toml in the user config
    folder. Passwords are never stored there: name an environment variable
    (--password-env) or use the OS keyring (--password-keyring).
    """


@profile.command("list")
@click.pass_obj
def list_(app: AppContext) -> None:
    """List profiles; the default one is marked."""
    rows = [{**asdict(p), "default": "*" if p.default else ""}
            for p in profiles.listed_profiles()]
    emit(app, rows, ["name", "default", "endpoint", "auth", "role"], title="Profiles")


@profile.command()
@click.argument("name", required=False)
@click.pass_obj
def show(app: AppContext, name: str | None) -> None:
    """Show a profile's settings (the profile in use when NAME is omitted)."""
    described = profiles.describe_profile(name or app.profile_name)
    if app.output == "json":
        import json

        click.echo(json.dumps(described, indent=2))
        return
    for key, value in described.items():
        click.echo(f"{key}: {value}")


@profile.command()
@click.argument("name")
@click.option("--endpoint", required=True, metavar="URL",
              help="WSMan URL of the management host, e.g. https://mgmt:5986/wsman.")
@click.option("--configuration-name", metavar="NAME",
              help="The host's session configuration: Microsoft.PowerShell (default, Windows "
              "PowerShell 5.1), PowerShell.7, or a JEA endpoint's name.")
@click.option("--auth", type=click.Choice(profiles.AUTH_METHODS), default="negotiate",
              show_default=True, help="WinRM authentication (kerberos and credssp need "
              "pip install 'psbridge[kerberos]' or 'psbridge[credssp]').")
@click.option("--cloud", type=click.Choice(list(profiles.CLOUDS)), default=None,
              help="Microsoft cloud of the tenants (default global).")
@click.option("--username", help="WinRM account, e.g. CONTOSO\\svc-psbridge.")
@click.option("--password-env", metavar="VAR",
              help="Environment variable that holds the WinRM password.")
@click.option("--password-keyring", is_flag=True,
              help="Read the password from the OS keyring (service 'psbridge', user NAME).")
@click.option("--no-verify-tls", is_flag=True,
              help="Do not verify certificates (warned on every run; prefer --ca-bundle).")
@click.option("--ca-bundle", type=click.Path(dir_okay=False), help="CA bundle to verify TLS.")
@click.option("--encryption", type=click.Choice(profiles.ENCRYPTION), default="auto",
              show_default=True, help="WinRM message encryption.")
@click.option("--max-runspaces", type=click.IntRange(1, 64), default=3, show_default=True,
              help="Pipelines run at once on the host.")
@click.option("--role", type=click.Choice(profiles.ROLES), default="admin", show_default=True,
              help="The agent's role: helpdesk profiles refuse admin templates.")
@click.option("--exchange-organization", metavar="TENANT.onmicrosoft.com",
              help="Exchange Online organization to connect to.")
@click.option("--app-id", help="App registration (client) id for app-only connections.")
@click.option("--certificate-path", type=click.Path(dir_okay=False),
              help="App certificate (PEM) for app-only connections.")
@click.option("--delegated", is_flag=True,
              help="Device-code sign-in of a person (an agent, a partner's GDAP admin) "
              "instead of an app; --app-id defaults to the Exchange module's public client.")
@click.option("--graph", "with_graph", is_flag=True,
              help="Also connect Microsoft Graph (users, licences) with the same sign-in.")
@click.option("--tenant", "tenants", multiple=True,
              help="Customer tenant a partner profile manages (repeatable).")
@click.option("--default", "make_default", is_flag=True, help="Make it the default profile.")
@click.pass_obj
def add(app: AppContext, name: str, endpoint: str, configuration_name: str | None, auth: str,
        cloud: str | None, username: str | None, password_env: str | None,
        password_keyring: bool, no_verify_tls: bool, ca_bundle: str | None, encryption: str,
        max_runspaces: int, role: str, exchange_organization: str | None,
        app_id: str | None, certificate_path: str | None, delegated: bool, with_graph: bool,
        tenants: tuple[str, ...], make_default: bool) -> None:
    """Add or replace profile NAME.

    \b
    Example:
      psbridge profile add lab --endpoint https://mgmt.contoso.com:5986/wsman \\
          --auth ntlm --username 'CONTOSO\\svc' --password-env LAB_PASSWORD --default
    """
    path = profiles.add_profile(
        name, endpoint=endpoint, configuration_name=configuration_name, auth=auth,
        cloud=cloud, username=username, password_env=password_env,
        password_keyring=password_keyring, verify_tls=not no_verify_tls, ca_bundle=ca_bundle,
        encryption=encryption, max_runspaces=max_runspaces, role=role,
        exchange_organization=exchange_organization, app_id=app_id,
        certificate_path=certificate_path, delegated=delegated, graph=with_graph,
        tenants=tenants, make_default=make_default)
    outcome(app, f"profile {name} saved in {path}", {"profile": name, "saved": str(path)})


@profile.command()
@click.argument("name")
@click.pass_obj
def remove(app: AppContext, name: str) -> None:
    """Remove profile NAME from the configuration file."""
    path = profiles.remove_profile(name)
    outcome(app, f"profile {name} removed from {path}", {"profile": name, "removed": str(path)})


@profile.command()
@click.argument("name", required=False)
@click.pass_obj
def test(app: AppContext, name: str | None) -> None:
    """Check a profile end to end: reach the host, sign in, open a pool, connect services.

    Reports the host's PowerShell and protocol versions, the round-trip time of a tiny
    pipeline, the host's PowerShell edition, version and language mode, the versions of
    the modules psbridge needs (ExchangeOnlineManagement 3.1.0 or later, Microsoft.Graph
    2.x), each failure with the PowerShell line that fixes it on the host, and for each
    configured service whether its connect block succeeds and
    which tenant it reached (it must be --tenant, or the profile's own). Exit code 4 when
    the host cannot be reached or refuses the credentials, or a service reaches another
    tenant.
    """
    check = profiles.check_profile(name or app.profile_name, app.tenant)
    emit(app, [asdict(line) for line in check.lines], ["check", "result", "detail"],
         title=f"profile {check.profile}")
    if check.failed:
        raise ConnectionFailed(f"profile {check.profile}: a check failed",
                               hint="Each failed check says what to run on the host.")
