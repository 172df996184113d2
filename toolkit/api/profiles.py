"""Connection profiles in the configuration file: listed, described, added, removed, and
checked end to end. Only the check connects (to the profile's host, not to a workspace's
tenant), so these are functions of the module.

Profiles live in a TOML file: ``PSBRIDGE_CONFIG``, else config.toml in the user config
folder. Passwords are never stored there: a profile names an environment variable or the
OS keyring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.core.clouds import CLOUDS
from toolkit.core.config import AUTH_METHODS, ENCRYPTION, ROLES, remove_profile

if TYPE_CHECKING:
    from toolkit.core.errors import PsbridgeError
    from toolkit.core.target import Target
    from toolkit.core.templates import TemplateCatalog

# The choices ``add`` takes (a cloud is a key of CLOUDS); ``remove_profile(name)`` deletes
# a profile from the file and returns the file's path.
__all__ = ["AUTH_METHODS", "CLOUDS", "ENCRYPTION", "ROLES", "CheckLine", "ListedProfile",
           "ProfileCheck", "add_profile", "check_profile", "describe_profile",
           "listed_profiles", "remove_profile"]

HOST_INVENTORY = "_connect/host-inventory"
# Microsoft's public client of the ExchangeOnlineManagement module, present in every tenant.
EXCHANGE_MODULE_CLIENT = "fb78d390-0c51-40cd-8e17-fdbfab77341b"
GRAPH_MODULE_CLIENT = "14d82eec-204b-4c2f-b7e8-296a70dab67e"  # Microsoft Graph PowerShell


@dataclass(frozen=True)
class ListedProfile:
    """A profile as listed: ``auth`` is empty for the embedded sandbox."""

    name: str
    default: bool
    endpoint: str
    auth: str
    role: str


@dataclass(frozen=True)
class CheckLine:
    """One check of a profile: its ``result`` is ok, failed or skipped."""

    check: str
    result: str
    detail: str


@dataclass
class ProfileCheck:
    """A profile checked end to end, one line per check in the order they ran."""

    profile: str
    lines: list[CheckLine]

    @property
    def failed(self) -> bool:
        return any(line.result == "failed" for line in self.lines)


def listed_profiles() -> list[ListedProfile]:
    """The file's profiles, then the embedded sandbox (unless the file redefines it) and
    the ``PSBRIDGE_*`` environment's profile when set; the default one is marked."""
    from toolkit.core import config as cfg

    config = cfg.load()
    default = cfg.resolve_profile(None, config).name
    profiles = [*config.profiles.values()]
    if cfg.SANDBOX not in config.profiles:
        profiles.append(cfg.sandbox_profile())
    from_env = cfg.env_profile()
    if from_env is not None:
        profiles.append(from_env)
    return [ListedProfile(p.name, p.name == default, p.describe()["endpoint"],
                          p.auth if not p.is_sandbox else "", p.role) for p in profiles]


def describe_profile(name: str | None = None) -> dict[str, Any]:
    """A profile's settings for display (the default profile when ``name`` is None);
    password sources are named, values never shown."""
    from toolkit.core.config import resolve_profile

    return resolve_profile(name).describe()


def add_profile(name: str, *, endpoint: str, configuration_name: str | None = None,
                auth: str = "negotiate", cloud: str | None = None,
                username: str | None = None, password_env: str | None = None,
                password_keyring: bool = False, verify_tls: bool = True,
                ca_bundle: str | None = None, encryption: str = "auto",
                max_runspaces: int = 3, role: str = "admin",
                exchange_organization: str | None = None, app_id: str | None = None,
                certificate_path: str | None = None, delegated: bool = False,
                graph: bool = False, tenants: Sequence[str] = (),
                make_default: bool = False) -> Path:
    """Add or replace profile ``name`` (validated first); the configuration file's path.

    ``delegated``: a person signs in with a device code, through the Exchange module's
    public client unless ``app_id`` names another. ``graph``: Microsoft Graph is connected
    too, with the same sign-in. ``tenants``: the customer tenants a partner profile manages.
    """
    from toolkit.core.config import write_profile

    settings: dict[str, Any] = {
        "endpoint": endpoint,
        "configuration_name": configuration_name,
        "auth": auth,
        "cloud": cloud,
        "username": username,
        "password_env": password_env,
        "password_keyring": password_keyring or None,
        "verify_tls": None if verify_tls else False,
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
    if graph:
        graph_settings = {k: v for k, v in services.items() if k != "organization"}
        if graph_app:
            graph_settings["app_id"] = graph_app
        if exchange_organization:
            graph_settings["tenant_id"] = exchange_organization
        settings["graph"] = graph_settings
    settings = {k: v for k, v in settings.items() if v is not None}
    return write_profile(name, settings, make_default=make_default)


def check_profile(name: str | None = None, tenant: str | None = None) -> ProfileCheck:
    """Check a profile end to end: reach the host, sign in, open a pool, time a round
    trip, check the host's PowerShell and the modules its services need (a failed check
    says what to run on the host), and connect each service, which must reach ``tenant``
    (else the profile's own).

    A host that cannot be reached or refuses the credentials raises
    :class:`~toolkit.core.errors.ConnectionFailed`; the other failures are lines of the
    result (``failed``).
    """
    from toolkit.api.workspace import Workspace

    with Workspace(name, tenant) as ws:
        return ProfileCheck(ws.profile.name, _checks(ws.target, ws.catalog))


def _checks(target: Target, catalog: TemplateCatalog) -> list[CheckLine]:
    import statistics
    import time

    from toolkit.core.errors import PsbridgeError
    from toolkit.core.host_check import HostCheck, check_host, needed_modules
    from toolkit.core.session import Step
    from toolkit.core.template_meta import step_parameters

    lines: list[CheckLine] = []
    started = time.monotonic()
    with target.open_connection() as connection:
        opened = time.monotonic() - started
        versions = connection.versions()
        lines.append(CheckLine(
            "management host", "ok",
            f"{target.endpoint.url}, pool opened in {opened * 1000:.0f} ms, "
            f"PowerShell {versions['powershell']}, PSRP {versions['protocol']}"))
        trips = [connection.run([Step("'ping'")]).duration for _ in range(3)]
        lines.append(CheckLine("round trip", "ok",
                               f"median {statistics.median(trips) * 1000:.0f} ms over 3"))
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
        lines.extend(CheckLine(**check.row()) for check in checks)
        missing = {c.check for c in checks if not c.ok}
        for service in services:
            if missing & set(needed_modules([service])):
                lines.append(CheckLine(service, "skipped",
                                       "its modules are missing or too old"))
                continue
            started = time.monotonic()
            try:  # each service in a runspace of its own, as the commands use them
                with target.open_connection() as service_connection:
                    reached = target.connect(service_connection, [service], catalog)
            except PsbridgeError as exc:
                lines.append(_failed_connect(target, service, exc))
                continue
            took = (time.monotonic() - started) * 1000
            lines.append(CheckLine(service, "ok",
                                   f"tenant {target.expected or reached.get(service)}, "
                                   f"connected in {took:.0f} ms"))
    return lines


def _failed_connect(target: Target, service: str, exc: PsbridgeError) -> CheckLine:
    """A service that could not be connected, with the fix when the failure says which."""
    from toolkit.core.host_check import connect_fix
    from toolkit.core.target import WrongTenant

    tenant = target.expected.organization if target.expected else (target.tenant or "")
    settings = target.profile.services.get(service)
    authority = target.tokens.authority() if target.tokens else ""
    fix = connect_fix(exc.message, tenant=tenant, app=settings.app_id if settings else None,
                      authority=authority)
    if fix is None and isinstance(exc, WrongTenant):
        fix = exc.hint
    return CheckLine(service, "failed",
                     exc.message if fix is None else f"{exc.message}; fix: {fix}")
