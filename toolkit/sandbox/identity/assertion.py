"""Verification of certificate client assertions (RFC 7523 ``private_key_jwt``).

msal signs the assertion with the app certificate's private key: RS256 with an ``x5t``
(SHA-1 thumbprint) header when given ``{"private_key", "thumbprint"}``, PS256 with
``x5t#S256`` when given ``public_certificate`` or a PFX. Claims: ``aud`` = the token
endpoint from the OpenID configuration, ``iss`` = ``sub`` = client id, ``exp``,
``iat``, ``jti``. msal reuses one assertion for up to nine minutes, so like Entra we do
not reject a repeated ``jti``. The audience may name the tenant by any alias and any
host (Entra accepts its host aliases; the sandbox answers on several loopback names).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from urllib.parse import unquote, urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from toolkit.sandbox.identity import errors
from toolkit.sandbox.identity.model import AppRegistration, Tenant
from toolkit.sandbox.identity.tokens import CLOCK_SKEW_S

_TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/(?:v2\.0/)?token/?$")


def verify_client_assertion(
    assertion: str,
    *,
    app: AppRegistration,
    tenant: Tenant,
    resolve_tenant: Callable[[str], Tenant | None],
    now: float,
) -> None:
    """Raise the matching `errors.OAuthError` unless *assertion* authenticates *app*."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.DecodeError:
        raise errors.malformed_assertion() from None
    presented = _presented_thumbprint(header)
    if not app.certificate_pem:
        raise errors.certificate_not_registered(presented, app.client_id)
    cert = x509.load_pem_x509_certificate(app.certificate_pem.encode("ascii"))
    if presented not in {
        cert.fingerprint(hashes.SHA1()).hex().upper(),
        cert.fingerprint(hashes.SHA256()).hex().upper(),
    }:
        raise errors.certificate_not_registered(presented, app.client_id)
    if cert.not_valid_after_utc.timestamp() < now:
        raise errors.certificate_expired(presented)
    try:
        claims = jwt.decode(
            assertion,
            cert.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise errors.assertion_bad_signature() from None
    except jwt.InvalidTokenError:
        raise errors.malformed_assertion() from None
    client_id = app.client_id.lower()
    if str(claims.get("iss", "")).lower() != client_id or (
        str(claims.get("sub", "")).lower() != client_id
    ):
        raise errors.assertion_wrong_client()
    if not _audience_names_tenant(claims.get("aud"), tenant, resolve_tenant):
        raise errors.assertion_wrong_audience()
    try:
        exp = float(claims["exp"])
        nbf = float(claims.get("nbf", claims.get("iat", exp)))
    except (KeyError, TypeError, ValueError):
        raise errors.malformed_assertion() from None
    if exp + CLOCK_SKEW_S < now or nbf - CLOCK_SKEW_S > now:
        raise errors.assertion_out_of_time_range(now, nbf, exp)


def _presented_thumbprint(header: dict[str, object]) -> str:
    """The thumbprint the client names (hex, uppercase), from ``x5t#S256`` or ``x5t``."""
    for name in ("x5t#S256", "x5t"):
        value = header.get(name)
        if isinstance(value, str) and value:
            try:
                raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            except (binascii.Error, ValueError):
                return ""
            return raw.hex().upper()
    return ""


def _audience_names_tenant(
    audience: object, tenant: Tenant, resolve_tenant: Callable[[str], Tenant | None]
) -> bool:
    candidates = audience if isinstance(audience, list) else [audience]
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        match = _TOKEN_PATH.match(urlparse(candidate).path)
        if match and resolve_tenant(unquote(match.group(1))) == tenant:
            return True
    return False
