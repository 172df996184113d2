"""What a command acts on: a profile resolved into a live endpoint, tokens and connect steps.

For the ``sandbox`` profile this is the one place the toolkit starts the embedded sandbox:
in-process, on an ephemeral loopback port, with HTTPS, the demo tenant and its state kept
under the data folder so that one command sees what the previous one changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.core import paths
from toolkit.core.auth import TokenProvider
from toolkit.core.config import SANDBOX, Profile, parse_profile
from toolkit.core.errors import ConfigError, ConnectionFailed, TransportFault
from toolkit.core.session import Connection, Endpoint, ShellLedger, Step
from toolkit.core.templates import TemplateCatalog

# Opening a shell is tried this often before a host counts as unreachable (exit 4).
OPEN_ATTEMPTS = 3
CONNECT_TEMPLATES = {
    "exchange": "_lib/connect-exchange",
    "graph": "_lib/connect-graph",
    "msonline": "_lib/connect-msonline",
}


@dataclass
class Target:
    """A profile ready to run pipelines: its endpoint, tokens and tenant."""

    profile: Profile
    endpoint: Endpoint
    tenant: str | None = None
    tokens: TokenProvider | None = None
    ledger: ShellLedger | None = None  # None for the embedded sandbox: it dies with us
    _closers: list[Any] = field(default_factory=list, repr=False)
    _connect_scripts: dict[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def open_connection(self) -> Connection:
        """A new connection, after closing the shells a failed close left behind (each holds
        one of the account's few Exchange connections)."""
        if self.ledger is not None:
            self.ledger.reap(self.endpoint)
        for attempt in range(1, OPEN_ATTEMPTS):
            try:
                return Connection(self.endpoint, self.ledger)
            except TransportFault:  # a dropped request or an HTTP 5xx: not yet a verdict
                time.sleep(0.5 * 2 ** attempt)
        return Connection(self.endpoint, self.ledger)

    def connect_steps(self, services: Sequence[str], catalog: TemplateCatalog,
                      connection: Connection | None = None) -> list[Step]:
        """The guarded connect block of each service, with fresh tokens as parameters.

        Given the connection the pipeline will run on, services its runspace already holds
        are skipped, and a connection whose token is about to expire is renewed.
        """
        steps = []
        for service in services:
            held = connection.holds(service) if connection is not None else None
            if held:
                continue
            with self._lock:
                script = self._connect_scripts.get(service)
                if script is None:
                    script = catalog.render(CONNECT_TEMPLATES[service]).script
                    self._connect_scripts[service] = script
            parameters, expires_on = self._connect_parameters(service)
            if held is False and service == "exchange":
                parameters["Renew"] = True
            steps.append(Step(script, parameters, connects=(service, expires_on)))
        return steps

    def _connect_parameters(self, service: str) -> tuple[dict[str, Any], float]:
        """Token (and organization) for one service.

        With ``--tenant``, an app-only connection signs in to the customer tenant itself
        (the app is consented there); a delegated sign-in uses the partner's own token and
        names the customer as ``-DelegatedOrganization``.
        """
        if self.tokens is None:
            raise ConfigError(f"profile {self.profile.name} has no sign-in settings for "
                              f"{service}")
        delegated = self.tokens.is_delegated(service)
        token = self.tokens.token(service, None if delegated else self.tenant)
        if service != "exchange":
            return {"AccessToken": token.token}, token.expires_on
        parameters = {"AccessToken": token.token, "Organization": token.tenant}
        if delegated and self.tenant:
            parameters["DelegatedOrganization"] = self.tenant
        return parameters, token.expires_on

    def close(self) -> None:
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                closer()
        self._closers.clear()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_target(profile: Profile, tenant: str | None = None) -> Target:
    if profile.is_sandbox:
        return _embedded_sandbox(tenant)
    if profile.endpoint is None:  # pragma: no cover - only the sandbox profile lacks one
        raise ConfigError(f"profile {profile.name} has no endpoint")
    if tenant and profile.tenants and tenant not in profile.tenants:
        raise ConfigError(
            f"tenant {tenant} is not one of profile {profile.name}'s tenants",
            hint=f"Its tenants: {', '.join(profile.tenants)}.",
        )
    endpoint = Endpoint(
        url=profile.endpoint,
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


def sandbox_dir() -> Path:
    return paths.data_dir() / "sandbox"


def _embedded_sandbox(tenant: str | None) -> Target:
    from toolkit.sandbox.server import SandboxOptions, SandboxUnavailable, start_sandbox

    root = sandbox_dir()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    options = SandboxOptions(https=True, seed="demo", state=root / "state.json",
                             tls_dir=root / "tls")
    try:
        running = start_sandbox(options)
    except SandboxUnavailable as exc:
        raise ConnectionFailed(f"the embedded sandbox cannot start: {exc}") from None
    authority = running.url.removesuffix("/wsman")
    settings: dict[str, Any] = {
        "endpoint": running.url, "auth": "basic", "username": running.username,
        "ca_bundle": str(running.ca_cert), "role": "admin",
        **running.backend.profile_settings(authority),  # type: ignore[attr-defined]
    }
    profile = dataclasses.replace(parse_profile(SANDBOX, settings, source="built-in"),
                                  endpoint=None)
    endpoint = Endpoint(url=running.url, auth="basic", username=running.username,
                        password=running.password, ca_bundle=str(running.ca_cert))
    target = Target(profile, endpoint, tenant,
                    TokenProvider(profile, cache_path=root / "token-cache.bin"))
    target._closers.append(running.stop)
    return target
