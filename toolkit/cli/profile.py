"""``psbridge profile``: connection profiles in the configuration file."""

from __future__ import annotations

from typing import Any

import click

from toolkit.cli.context import AppContext
from toolkit.cli.output import emit
from toolkit.core import config as cfg
from toolkit.core.clouds import CLOUDS


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
    config = cfg.load()
    default = cfg.resolve_profile(None, config).name
    profiles = [*config.profiles.values()]
    if cfg.SANDBOX not in config.profiles:
        profiles.append(cfg.sandbox_profile())
    from_env = cfg.env_profile()
    if from_env is not None:
        profiles.append(from_env)
    rows = [
        {"name": p.name, "default": "*" if p.name == default else "",
         "endpoint": p.describe()["endpoint"], "auth": p.auth if not p.is_sandbox else "",
         "role": p.role}
        for p in profiles
    ]
    emit(app, rows, ["name", "default", "endpoint", "auth", "role"], title="Profiles")


@profile.command()
@click.argument("name", required=False)
@click.pass_obj
def show(app: AppContext, name: str | None) -> None:
    """Show a profile's settings (the profile in use when NAME is omitted)."""
    chosen = cfg.resolve_profile(name or app.profile_name)
    described = chosen.describe()
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
@click.option("--auth", type=click.Choice(cfg.AUTH_METHODS), default="negotiate",
              show_default=True, help="WinRM authentication (kerberos and credssp need "
              "pip install 'psbridge[kerberos]' or 'psbridge[credssp]').")
@click.option("--cloud", type=click.Choice(list(CLOUDS)), default=None,
              help="Microsoft cloud of the tenants (default global).")
@click.option("--username", help="WinRM account, e.g. CONTOSO\\svc-psbridge.")
@click.option("--password-env", metavar="VAR",
              help="Environment variable that holds the WinRM password.")
@click.option("--password-keyring", is_flag=True,
              help="Read the password from the OS keyring (service 'psbridge', user NAME).")
@click.option("--no-verify-tls", is_flag=True,
              help="Do not verify certificates (warned on every run; prefer --ca-bundle).")
@click.option("--ca-bundle", type=click.Path(dir_okay=False), help="CA bundle to verify TLS.")
@click.option("--encryption", type=click.Choice(cfg.ENCRYPTION), default="auto",
              show_default=True, help="WinRM message encryption.")
@click.option("--max-runspaces", type=click.IntRange(1, 64), default=3, show_default=True,
              help="Pipelines run at once on the host.")
@click.option("--role", type=click.Choice(cfg.ROLES), default="admin", show_default=True,
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
def add(name: str, endpoint: str, configuration_name: str | None, auth: str,
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
    settings: dict[str, Any] = {
        "endpoint": endpoint,
        "configuration_name": configuration_name,
        "auth": auth,
        "cloud": cloud,
        "username": username,
        "password_env": password_env,
        "password_keyring": password_keyring or None,
        "verify_tls": False if no_verify_tls else None,
        "ca_bundle": ca_bundle,
        "encryption": encryption,
        "max_runspaces": max_runspaces,
        "role": role,
        "tenants": list(tenants) or None,
    }
    services: dict[str, Any] = {}
    graph_app = app_id
    if delegated:
        services["delegated"] = True
        graph_app = app_id or GRAPH_MODULE_CLIENT
        app_id = app_id or EXCHANGE_MODULE_CLIENT
    for key, value in (("organization", exchange_organization), ("app_id", app_id),
                       ("certificate_path", certificate_path)):
        if value:
            services[key] = value
    if services:
        settings["exchange"] = services
    if with_graph:
        graph = {k: v for k, v in services.items() if k != "organization"}
        if graph_app:
            graph["app_id"] = graph_app
        if exchange_organization:
            graph["tenant_id"] = exchange_organization
        settings["graph"] = graph
    settings = {k: v for k, v in settings.items() if v is not None}
    path = cfg.write_profile(name, settings, make_default=make_default)
    click.echo(f"profile {name} saved in {path}")


@profile.command()
@click.argument("name")
def remove(name: str) -> None:
    """Remove profile NAME from the configuration file."""
    path = cfg.remove_profile(name)
    click.echo(f"profile {name} removed from {path}")


HOST_INVENTORY = "_connect/host-inventory"
# Microsoft's public client of the ExchangeOnlineManagement module, present in every tenant.
EXCHANGE_MODULE_CLIENT = "fb78d390-0c51-40cd-8e17-fdbfab77341b"
GRAPH_MODULE_CLIENT = "14d82eec-204b-4c2f-b7e8-296a70dab67e"  # Microsoft Graph PowerShell


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
    import statistics
    import time

    from toolkit.core.errors import ConnectionFailed, PsbridgeError
    from toolkit.core.host_check import HostCheck, check_host, needed_modules
    from toolkit.core.session import Step
    from toolkit.core.target import open_target
    from toolkit.core.templates import TemplateCatalog, step_parameters

    chosen = cfg.resolve_profile(name or app.profile_name)
    rows: list[dict[str, Any]] = []
    with open_target(chosen, app.tenant) as target:
        started = time.monotonic()
        with target.open_connection() as connection:
            opened = time.monotonic() - started
            versions = connection.versions()
            rows.append({"check": "management host", "result": "ok",
                         "detail": f"{target.endpoint.url}, pool opened in {opened * 1000:.0f} ms, "
                         f"PowerShell {versions['powershell']}, PSRP {versions['protocol']}"})
            trips = []
            for _ in range(3):
                result = connection.run([Step("'ping'")])
                trips.append(result.duration)
            rows.append({"check": "round trip", "result": "ok",
                         "detail": f"median {statistics.median(trips) * 1000:.0f} ms over 3"})
            catalog = TemplateCatalog()
            services = [s for s in ("exchange", "graph") if s in target.profile.services]
            host_inventory = catalog.render(HOST_INVENTORY)
            inventory = connection.run([Step(host_inventory.script, step_parameters(
                host_inventory.meta,
                {"modules": needed_modules(services) or ["ExchangeOnlineManagement"]}))])
            if inventory.errors or not inventory.output:
                message = inventory.errors[0].message if inventory.errors else "no answer"
                checks = [HostCheck("host inventory", False, message,
                                    "use an endpoint whose LanguageMode is FullLanguage")]
            else:
                checks = check_host(inventory.output[0], services)
            rows.extend(check.row() for check in checks)
            failed = not all(check.ok for check in checks)
            missing = {c.check for c in checks if not c.ok}
            for service in services:
                if missing & set(needed_modules([service])):
                    rows.append({"check": service, "result": "skipped",
                                 "detail": "its modules are missing or too old"})
                    continue
                started = time.monotonic()
                try:  # each service in a runspace of its own, as the commands use them
                    with target.open_connection() as service_connection:
                        reached = target.connect(service_connection, [service], catalog)
                except PsbridgeError as exc:
                    rows.append({"check": service, "result": "failed", "detail": exc.message})
                    failed = True
                    continue
                took = (time.monotonic() - started) * 1000
                rows.append({"check": service, "result": "ok",
                             "detail": f"tenant {target.expected or reached.get(service)}, "
                                       f"connected in {took:.0f} ms"})
    emit(app, rows, ["check", "result", "detail"], title=f"profile {chosen.name}")
    if failed:
        raise ConnectionFailed(f"profile {chosen.name}: a check failed",
                               hint="Each failed check says what to run on the host.")
