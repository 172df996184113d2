"""Access tokens for Exchange Online and Microsoft Graph, through msal.

Two flows: client credentials with a certificate (or a secret) for scheduled jobs, and
device-code sign-in for agents. Tokens are cached with msal-extensions: encrypted where
the OS offers a keyring, otherwise in a file only its owner can read. A token is handed
to the management host only as a parameter of the guarded connect block, never in script
text, logs or the journal.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.core import paths
from toolkit.core.clouds import CLOUDS
from toolkit.core.config import Profile, ServiceConnection
from toolkit.core.errors import ConfigError, ConnectionFailed

SIGN_IN_ATTEMPTS = 5  # tenant discovery and each token request alike
# OAuth 2.0 error codes that say "try again later" (RFC 6749 section 5.2 / 4.1.2.1).
TRANSIENT_SIGN_IN_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


def sign_in_pause(attempt: int) -> None:
    """The wait before try ``attempt`` (from 1) of a request to the identity platform."""
    time.sleep(min(8.0, 0.5 * 2 ** attempt))


@dataclass(frozen=True)
class AccessToken:
    token: str = field(repr=False)
    expires_on: float
    tenant: str

    def __str__(self) -> str:  # never print a token by accident
        return "AccessToken(****)"


def http_session(profile: Profile) -> Any:
    """A requests session for the identity platform, with the profile's TLS settings.

    requests lets REQUESTS_CA_BUNDLE override a session's ``verify``; with trust_env off
    the profile's CA bundle is used as configured (and no proxy sees loopback traffic).
    ``verify_tls = false`` applies here as it does to the management host (the CLI warns
    about it on every run), so sign-in does not fail where the host connection works.
    """
    import requests

    session = requests.Session()
    if not profile.verify_tls:
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        session.verify = False
        session.trust_env = False
    elif profile.ca_bundle:
        session.verify = profile.ca_bundle
        session.trust_env = False
    return session


def token_tenant_id(token: str) -> str:
    """The ``tid`` claim of an access token (read, not verified: the service verifies)."""
    import base64
    import json

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    return str(claims.get("tid", "")).lower() if isinstance(claims, dict) else ""


def _token_cache(location: Path) -> Any:
    from msal_extensions import FilePersistence, PersistedTokenCache, build_encrypted_persistence

    location.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        persistence = build_encrypted_persistence(str(location))
    except Exception:  # no OS keyring (headless Linux): an owner-only file instead
        persistence = FilePersistence(str(location))
        location.touch(mode=0o600, exist_ok=True)
        location.chmod(0o600)
    return PersistedTokenCache(persistence)


def _read_certificate(path: str) -> dict[str, str]:
    """msal's certificate credential from a PEM holding the private key and certificate."""
    from cryptography import x509

    try:
        pem = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the app certificate {path}: {exc.strerror}") from None
    begin = pem.find("-----BEGIN CERTIFICATE-----")
    if begin < 0 or "PRIVATE KEY-----" not in pem:
        raise ConfigError(f"{path} must hold the app's private key and its certificate (PEM)")
    certificate = pem[begin:]
    return {"private_key": pem, "public_certificate": certificate,
            "thumbprint": x509.load_pem_x509_certificate(certificate.encode())
            .fingerprint(_sha1()).hex()}


def _fingerprint(credential: Any) -> str:
    """A short digest of an app's secret or certificate ("" for a public client)."""
    if credential is None:
        return ""
    material = credential if isinstance(credential, str) else credential["thumbprint"]
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _sha1() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA1()  # the x5t thumbprint is defined as SHA-1


class TokenProvider:
    """Gets (and caches) access tokens for the services of one profile."""

    def __init__(self, profile: Profile, *, cache_path: Path | None = None,
                 prompt: Callable[[str], None] | None = None):
        self.profile = profile
        self.cache_path = cache_path or paths.data_dir() / "token-cache.bin"
        self._prompt = prompt or (lambda message: print(message, file=sys.stderr, flush=True))
        self._apps: dict[tuple[str, str, str], Any] = {}
        self._caches: dict[str, Any] = {}

    def _connection(self, service: str) -> ServiceConnection:
        key = service
        conn = self.profile.services.get(key)
        if conn is None:
            raise ConfigError(
                f"profile {self.profile.name} has no [{key}] settings, needed by this task",
                hint=f"Add [profiles.{self.profile.name}.{key}] with organization/app_id.",
            )
        return conn

    def is_delegated(self, service: str) -> bool:
        return self._connection(service).delegated

    def home_tenant(self) -> str:
        """The profile's own tenant: the first service's organization or tenant id."""
        for service in self.profile.services:
            return self.tenant_for(service, None)
        raise ConfigError(f"profile {self.profile.name} has no [exchange] or [graph] settings")

    def authority(self) -> str:
        """The identity platform the profile signs in with."""
        for conn in self.profile.services.values():
            return conn.authority
        return ServiceConnection().authority

    def tenant_for(self, service: str, tenant: str | None) -> str:
        conn = self._connection(service)
        chosen = tenant or conn.tenant_id or conn.organization
        if not chosen:
            raise ConfigError(f"profile {self.profile.name}: [{service}] names no tenant",
                              hint="Set organization (or tenant_id), or pass --tenant.")
        return chosen

    def _app(self, conn: ServiceConnection, tenant: str) -> Any:
        import msal

        authority = f"{conn.authority.rstrip('/')}/{tenant}"
        if not conn.app_id:
            raise ConfigError(f"profile {self.profile.name}: app_id is required to sign in")
        credential: Any = None
        if not conn.delegated:
            if conn.certificate_path:
                credential = _read_certificate(conn.certificate_path)
            else:
                credential = conn.client_secret()
                if not credential:
                    raise ConfigError(
                        f"profile {self.profile.name}: an app connection needs "
                        "certificate_path, client_secret_env or client_secret_file",
                    )
        fingerprint = _fingerprint(credential)
        key = (authority, conn.app_id, fingerprint)
        if key in self._apps:
            return self._apps[key]
        common: dict[str, Any] = {
            "authority": authority,
            "token_cache": self._cache_for(fingerprint),
            "http_client": http_session(self.profile),
            # Sovereign or test authorities are not in Microsoft's instance list.
            "instance_discovery": conn.authority.startswith("https://login.microsoftonline"),
        }
        if conn.delegated:
            app = msal.PublicClientApplication(conn.app_id, **common)
        else:
            app = msal.ConfidentialClientApplication(conn.app_id, client_credential=credential,
                                                     azure_region=False, **common)
        self._apps[key] = app
        return app

    def _cache_for(self, fingerprint: str) -> Any:
        """One cache per app credential: a token got with the right secret is never
        handed to a profile whose secret is wrong (msal keys its cache by app id only)."""
        if fingerprint not in self._caches:
            path = self.cache_path
            if fingerprint:
                path = path.with_name(f"{path.stem}-{fingerprint}{path.suffix}")
            self._caches[fingerprint] = _token_cache(path)
        return self._caches[fingerprint]

    def token(self, service: str, tenant: str | None = None) -> AccessToken:
        """A valid access token for ``service`` in ``tenant`` (cached until near expiry).

        The token comes from ``tenant``'s own authority, app-only and delegated alike: a
        partner's user (a GDAP admin of the customer) gets a token of the customer tenant,
        which is the only token the customer's services act on.
        """
        conn = self._connection(service)
        tenant_name = self.tenant_for(service, tenant)
        result = self._signed_in(conn, service, tenant_name)
        if "access_token" not in result:
            description = str(result.get("error_description", "")).splitlines()[0:1]
            raise ConnectionFailed(
                f"sign-in to {service} for {tenant_name} failed: {result.get('error')}: "
                f"{description[0] if description else ''}",
                hint="Check the app id, its certificate or secret, and the tenant's consent.",
            )
        expires_in = float(result.get("expires_in", 3600))
        return AccessToken(result["access_token"], time.time() + expires_in, tenant_name)

    def _signed_in(self, conn: ServiceConnection, service: str, tenant: str
                   ) -> dict[str, Any]:
        """msal's answer for one token, with the identity platform's passing failures (HTTP
        5xx, dropped connections, "temporarily unavailable") tried again a few times."""
        from msal.exceptions import MsalError

        scopes = [f"{CLOUDS[self.profile.cloud].resource(service)}/.default"]
        failure = ""
        for attempt in range(SIGN_IN_ATTEMPTS):
            if attempt:
                sign_in_pause(attempt)
            try:
                app = self._app(conn, tenant)
                if conn.delegated:
                    result = self._delegated(app, scopes)
                else:
                    result = app.acquire_token_for_client(scopes=scopes)
            except (OSError, ValueError, MsalError) as exc:
                failure = f"{type(exc).__name__}: {exc}"
                continue
            if result.get("error") not in TRANSIENT_SIGN_IN_ERRORS:
                return dict(result)
            failure = str(result.get("error"))
        raise ConnectionFailed(
            f"cannot sign in to {service} for {tenant}: the identity platform "
            f"{conn.authority} kept failing ({failure}) after {SIGN_IN_ATTEMPTS} tries",
            hint="Try again later; check the authority URL and the network to it.")

    def _delegated(self, app: Any, scopes: list[str]) -> dict[str, Any]:
        accounts = app.get_accounts()
        if accounts:
            cached = app.acquire_token_silent(scopes, account=accounts[0])
            if cached and "access_token" in cached:
                return dict(cached)
        flow = app.initiate_device_flow(scopes=scopes)
        if "user_code" not in flow:
            return dict(flow)
        self._prompt(flow["message"])
        return dict(app.acquire_token_by_device_flow(flow))

