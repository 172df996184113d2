"""What a command acts on: a profile resolved into a live endpoint, tokens and connect steps.

For the ``sandbox`` profile this is where the toolkit starts the embedded sandbox (through
``core/sandbox_plugin.py``): one server process per data folder, started on first use on an
ephemeral loopback port, with HTTPS and the demo tenant, and shared by every command, so each
sees and keeps what the others changed, even when they run at the same time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.core import paths
from toolkit.core.auth import AccessToken, TokenProvider, token_tenant_id
from toolkit.core.clouds import CLOUDS
from toolkit.core.config import AUTH_EXTRAS, SANDBOX, Profile, parse_profile
from toolkit.core.errors import ConfigError, ConnectionFailed, ConnectionsBusy, TransportFault
from toolkit.core.pipeline_results import ErrorInfo
from toolkit.core.retry import classify
from toolkit.core.session import Connection, Endpoint, Step
from toolkit.core.shell_ledger import ShellLedger
from toolkit.core.template_meta import step_parameters
from toolkit.core.templates import RenderedScript, TemplateCatalog
from toolkit.core.tenants import TenantRef, TenantResolver, UnknownTenant

log = logging.getLogger(__name__)
# Opening a shell is tried this often before the host's failure is the verdict (exit 4):
# a host that answered (HTTP 5xx, a request dropped half-way) more often than one that
# refused the connection (nothing listening: down or the wrong port).
OPEN_ATTEMPTS = 6
REFUSED_ATTEMPTS = 3
# Read back, from each service itself, which tenant a connected runspace acts on.
REACHED_TENANT_TEMPLATES = {"exchange": "_connect/reached-tenant-exchange",
                            "graph": "_connect/reached-tenant-graph"}


class WrongTenant(ConnectionFailed):
    """A connection reached another tenant than the one asked for: nothing is sent."""


@dataclass
class Target:
    """A profile ready to run pipelines: its endpoint, tokens and tenant."""

    profile: Profile
    endpoint: Endpoint
    tenant: str | None = None
    tokens: TokenProvider | None = None
    ledger: ShellLedger | None = None
    # The tenant every connection must reach: --tenant, else the profile's own, resolved.
    expected: TenantRef | None = None
    resolver: TenantResolver | None = None
    _connect_scripts: dict[str, RenderedScript] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def open_connection(self) -> Connection:
        """A new connection, after closing the shells a failed close left behind (each holds
        one of the account's few Exchange connections)."""
        if self.ledger is not None:
            self.ledger.reap(self.endpoint)
        for attempt in range(1, OPEN_ATTEMPTS):
            try:
                return Connection(self.endpoint, self.ledger)
            except TransportFault as fault:  # a dropped request or an HTTP 5xx: not yet
                if fault.refused and attempt >= REFUSED_ATTEMPTS:  # a verdict
                    raise
                time.sleep(min(4.0, 0.5 * 2 ** attempt))
        return Connection(self.endpoint, self.ledger)

    def connect(self, connection: Connection, services: Sequence[str],
                catalog: TemplateCatalog) -> dict[str, str]:
        """Connect the runspace to the services it does not hold yet, then check the tenant.

        The connect blocks run as a pipeline of their own, before any template, followed by
        each service's report of the tenant it reached (``Get-ConnectionInformation`` and
        ``Get-OrganizationConfig`` for Exchange, ``Get-MgContext`` for Graph): a connection
        to any other tenant than :attr:`expected` raises :class:`WrongTenant` (exit 4)
        before a row is sent. Returns the tenant id each newly connected service reached.
        """
        steps, tokens = self._connect_steps(services, catalog, connection)
        if not steps:
            return {}
        # The token names the tenant it was issued in: a wrong one is never sent.
        for service, token in tokens.items():
            self._check_reached(service, token_tenant_id(token))
        reports = [Step(catalog.render(REACHED_TENANT_TEMPLATES[s]).script) for s in tokens]
        result = connection.run([*steps, *reports])
        if result.failed or result.errors:
            for service in tokens:  # a connect that wrote an error holds nothing usable
                connection.services.pop(service, None)
            raise _connect_failure(steps, result.errors[-1] if result.errors else None)
        answers = {str(a.get("Service")): a for a in result.output if isinstance(a, dict)}
        try:
            return {service: self._reached(service, answers.get(service, {}))
                    for service in tokens}
        except WrongTenant:
            for service in tokens:  # never reuse a connection to another tenant
                connection.services.pop(service, None)
            raise

    def _reached(self, service: str, answer: dict[str, Any]) -> str:
        """The tenant id a service's report names, checked against :attr:`expected`."""
        tenant_id = str(answer.get("TenantId") or "").lower()
        # What Exchange's cmdlets act on, read from the service: Get-ConnectionInformation
        # can name a tenant the cmdlets do not act on (a token of another tenant).
        organization = str(answer.get("Organization") or "")
        named: TenantRef | None = None
        if self.resolver is not None and organization:
            named = self.resolver.resolve(organization)
            if named.id != tenant_id:
                named = TenantRef(f"{organization}, signed in to {tenant_id}", named.id)
            tenant_id = named.id
        self._check_reached(service, tenant_id, named)
        return tenant_id

    def _check_reached(self, service: str, tenant_id: str,
                       named: TenantRef | None = None) -> None:
        expected = self.expected
        if expected is not None and tenant_id != expected.id:
            raise WrongTenant(
                f"the {service} connection reached tenant "
                f"{named or tenant_id or '(not reported)'}, "
                f"not {expected}: nothing was sent or changed",
                hint="Check --tenant and the profile's organization/tenant_id; a partner's "
                     "sign-in needs an active delegated admin (GDAP) relationship with the "
                     "customer.",
            )

    def _connect_steps(self, services: Sequence[str], catalog: TemplateCatalog,
                       connection: Connection) -> tuple[list[Step], dict[str, str]]:
        """The guarded connect block of each service, with fresh tokens as parameters, and
        the access token each service is connected with.

        Each service's block is the ``_connect/`` step whose metadata says it connects it;
        its parameters are filled from the sources the metadata names. Services the
        connection's runspace already holds are skipped, and a connection whose token is
        about to expire is renewed.
        """
        steps = []
        tokens: dict[str, str] = {}
        cloud = CLOUDS[self.profile.cloud]
        for service in services:
            held = connection.holds(service)
            if held:
                continue
            with self._lock:
                connect = self._connect_scripts.get(service)
                if connect is None:
                    connect = catalog.render(catalog.connect_step(service))
                    self._connect_scripts[service] = connect
            token = self._token(service)
            parameters = step_parameters(connect.meta, {
                "token": token.token,
                "tenant": token.tenant,
                # Named only outside the global cloud: there the script's default applies.
                "cloud": cloud.environment(service) if cloud != CLOUDS["global"] else None,
                "renew": True if held is False else None,
            })
            log.debug("connect %s with %s", service, connect.meta.shown(parameters))
            steps.append(Step(connect.script, parameters, connects=(service, token.expires_on)))
            tokens[service] = token.token
        return steps, tokens

    def _token(self, service: str) -> AccessToken:
        """A fresh access token for one service.

        With ``--tenant``, app-only and delegated sign-ins alike get their token from the
        customer tenant's authority (the app is consented there; the partner's user is a
        GDAP admin there) and Exchange connects with ``-Organization`` set to the customer.
        ``-DelegatedOrganization`` is not used: with ``-AccessToken`` the module acts on
        the token's own tenant whatever it names (office-docs-powershell issue 10378).
        """
        if self.tokens is None:
            raise ConfigError(f"profile {self.profile.name} has no sign-in settings for "
                              f"{service}")
        organization = self.expected.organization if self.expected else self.tenant
        return self.tokens.token(service, organization)

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        """Nothing to release: connections close with their runs, the sandbox outlives us."""


def _connect_failure(steps: Sequence[Step], error: ErrorInfo | None) -> ConnectionFailed:
    """What a connect block that wrote an error becomes: busy, transient or a verdict."""
    message = error.message if error else "the connect block failed"
    verdict = classify(error.error_id if error else None, error.category if error else None,
                       message, reason=error.reason if error else None)
    failure = (ConnectionsBusy if verdict.connection_limit
               else TransportFault if verdict.retry else ConnectionFailed)
    return failure(f"connecting to {', '.join(s.connects[0] for s in steps if s.connects)}"
                   f" failed: {message}",
                   hint="Run 'psbridge profile test' to check the host and sign-in.")


def open_target(profile: Profile, tenant: str | None = None) -> Target:
    target = _embedded_sandbox(tenant) if profile.is_sandbox else _remote_target(profile, tenant)
    _resolve_tenant(target)
    return target


def _resolve_tenant(target: Target) -> None:
    """Name the tenant every connection must reach, and check ``--tenant`` is allowed.

    ``--tenant`` may be the profile's own tenant or one of its ``tenants``, each written as
    a ``.onmicrosoft.com`` name, a tenant id or a verified domain: they are compared by id.
    """
    if target.tokens is None or not target.profile.services:
        return
    from toolkit.core.auth import http_session

    profile = target.profile
    resolver = TenantResolver(target.tokens.authority(), http_session(profile),
                              persist=not profile.is_sandbox)
    target.resolver = resolver
    try:
        home = resolver.resolve(target.tokens.home_tenant())
    except UnknownTenant as exc:
        raise ConfigError(f"profile {profile.name}: {exc.message}",
                          hint="Fix the organization (or tenant_id) of its [exchange] or "
                               "[graph] settings.") from None
    if not target.tenant:
        target.expected = home
        return
    asked = resolver.resolve(target.tenant)
    allowed = {home.id} | {resolver.resolve(name).id for name in profile.tenants}
    if profile.tenants and asked.id not in allowed:
        raise ConfigError(
            f"tenant {asked} is not one of profile {profile.name}'s tenants",
            hint=f"Its tenants: {', '.join([home.name, *profile.tenants])}.",
        )
    target.expected = asked


def _remote_target(profile: Profile, tenant: str | None) -> Target:
    if profile.endpoint is None:  # pragma: no cover - only the sandbox profile lacks one
        raise ConfigError(f"profile {profile.name} has no endpoint")
    _check_auth_extra(profile)
    if not profile.verify_tls:
        _warn_no_tls_verification(profile)
    endpoint = Endpoint(
        url=profile.endpoint,
        configuration_name=profile.configuration_name,
        auth=profile.auth,
        username=profile.username,
        password=profile.password(),
        verify_tls=profile.verify_tls,
        ca_bundle=profile.ca_bundle,
        encryption=profile.encryption,
        certificate_pem=profile.certificate_pem,
        certificate_key_pem=profile.certificate_key_pem,
    )
    tokens = TokenProvider(profile) if profile.services else None
    ledger = ShellLedger()
    with contextlib.suppress(ConnectionFailed):  # an unreachable host fails at first use
        ledger.reap(endpoint)
    return Target(profile, endpoint, tenant, tokens, ledger)


def _check_auth_extra(profile: Profile) -> None:
    """Kerberos and CredSSP need libraries psbridge installs only as extras."""
    needed = AUTH_EXTRAS.get(profile.auth)
    if needed is None or (profile.auth == "kerberos" and sys.platform == "win32"):
        return  # Windows signs in with Kerberos through SSPI, nothing to install
    module, extra = needed
    try:
        importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"profile {profile.name}: auth = {profile.auth} needs the {module} package, "
            "which is not installed",
            hint=f"pip install 'psbridge[{extra}]'"
                 + (" (and the system's Kerberos library, e.g. libkrb5-dev, to build it)"
                    if extra == "kerberos" else ""),
        ) from None


def _warn_no_tls_verification(profile: Profile) -> None:
    """Said on every run: the setting exposes the host's password and the cloud tokens."""
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # said once, here
    print(f"warning: profile {profile.name} has verify_tls = false: the certificates of the "
          "management host and of the identity platform are not checked, so anyone on the "
          "network path can read the password and the access tokens. Set ca_bundle to the "
          "CA that signed them instead.", file=sys.stderr, flush=True)


def sandbox_dir() -> Path:
    return paths.data_dir() / "sandbox"


def _embedded_sandbox(tenant: str | None) -> Target:
    from toolkit.core.sandbox_plugin import sandbox_plugin

    root = sandbox_dir()
    plugin = sandbox_plugin()
    try:
        running = plugin.connect_shared(root)
    except plugin.SandboxUnavailable as exc:
        raise ConnectionFailed(f"the embedded sandbox cannot start: {exc}",
                               hint=exc.hint) from None
    settings: dict[str, Any] = {
        "endpoint": running.url, "auth": "basic", "username": running.username,
        "ca_bundle": running.ca_cert, "role": "admin", **running.profile_settings,
    }
    profile = dataclasses.replace(parse_profile(SANDBOX, settings, source="built-in"),
                                  endpoint=None)
    endpoint = Endpoint(url=running.url, auth="basic", username=running.username,
                        password=running.password, ca_bundle=running.ca_cert)
    ledger = ShellLedger()  # the server outlives us: close what a killed command left open
    with contextlib.suppress(ConnectionFailed):
        ledger.reap(endpoint)
    return Target(profile, endpoint, tenant,
                  TokenProvider(profile, cache_path=root / "token-cache.bin"), ledger)
