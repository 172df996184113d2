"""Signed tokens: access tokens shaped like Entra ID's, ID tokens and refresh tokens.

Access tokens are RS256 JWTs in the **v1.0** shape, because that is what Entra issues for
Exchange Online and Microsoft Graph (both APIs accept v1 tokens only, whichever endpoint
the client used): ``aud`` is the resource URI (``https://outlook.office365.com`` or
``https://graph.microsoft.com``), ``iss`` is ``https://sts.windows.net/{tid}/``, ``tid``
the tenant id, ``appid`` the client, ``appidacr`` how it authenticated (0 public client,
1 secret, 2 certificate), ``idtyp`` ``app`` or ``user``; app tokens carry ``roles``,
delegated tokens ``scp``, ``upn``, ``unique_name`` and ``name``. ``oid``/``sub`` are
stable per tenant and principal. The issuer does not name the sandbox's host or port,
so tokens stay valid across a restart on another port while the signing key (persisted
next to the TLS material) is the same.

`TokenService.verify_access_token` is what the emulated ``Connect-ExchangeOnline
-AccessToken`` and ``Connect-MgGraph -AccessToken`` call. It checks, in the order
Microsoft.IdentityModel does: format, signature, lifetime (5 minutes of clock skew),
audience, tenant; and raises a `TokenError` whose text is the one Microsoft's services
return for that failure (their ``InvalidAuthenticationToken`` 401 messages):

=========================  ==========================================================
malformed                  ``CompactToken parsing failed with error code: 80049217``
bad signature (tampered)   ``Access token validation failure. Invalid signature.``
expired                    ``Lifetime validation failed, the token is expired.``
not yet valid              ``Lifetime validation failed, the token is not yet valid.``
wrong audience             ``Access token validation failure. Invalid audience.``
wrong tenant               ``Access token validation failure. The token was issued for
                           tenant '<tid>', not for '<expected>'.``
=========================  ==========================================================

Messages never contain the token itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from toolkit.sandbox.identity._files import directory_lock, ensure_private_dir, write_atomic
from toolkit.sandbox.identity.resources import Resource, resource_for_audience

SIGNING_KEY = "token-signing.key"

CLOCK_SKEW_S = 300
ACCESS_TOKEN_LIFETIME_S = 3599
REFRESH_TOKEN_LIFETIME_S = 90 * 24 * 3600

# appidacr / azpacr values: how the client authenticated.
ACR_PUBLIC_CLIENT = "0"
ACR_CLIENT_SECRET = "1"
ACR_CERTIFICATE = "2"

_OID_NAMESPACE = uuid.UUID("6f1d7a4e-2b56-4c1f-9e8a-0c3b5d7e9f21")


class TokenError(Exception):
    """An access token was refused. ``code`` is the error code Graph and Exchange use."""

    code = "InvalidAuthenticationToken"
    status = 401


class TokenMalformedError(TokenError):
    def __init__(self) -> None:
        super().__init__("CompactToken parsing failed with error code: 80049217")


class TokenSignatureError(TokenError):
    def __init__(self) -> None:
        super().__init__("Access token validation failure. Invalid signature.")


class TokenExpiredError(TokenError):
    def __init__(self) -> None:
        super().__init__("Lifetime validation failed, the token is expired.")


class TokenNotYetValidError(TokenError):
    def __init__(self) -> None:
        super().__init__("Lifetime validation failed, the token is not yet valid.")


class TokenAudienceError(TokenError):
    def __init__(self) -> None:
        super().__init__("Access token validation failure. Invalid audience.")


class TokenTenantError(TokenError):
    def __init__(self, token_tenant: str, expected_tenant: str) -> None:
        super().__init__(
            "Access token validation failure. The token was issued for tenant "
            f"'{token_tenant}', not for '{expected_tenant}'."
        )


def object_id(tenant_id: str, kind: str, name: str) -> str:
    """A stable object id for a principal (user or service principal) in a tenant."""
    return str(uuid.uuid5(_OID_NAMESPACE, f"{tenant_id.lower()}/{kind}/{name.lower()}"))


def access_token_issuer(tenant_id: str) -> str:
    """The ``iss`` of a v1.0 access token."""
    return f"https://sts.windows.net/{tenant_id}/"


class TokenService:
    """Issues and verifies the sandbox's JWTs with one RSA signing key."""

    def __init__(
        self,
        key: rsa.RSAPrivateKey,
        *,
        access_token_lifetime: int = ACCESS_TOKEN_LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._public_key = key.public_key()
        self.access_token_lifetime = access_token_lifetime
        self._clock = clock
        der = self._public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = _b64url(hashlib.sha1(der).digest())

    @classmethod
    def load_or_create(
        cls,
        directory: str | Path,
        *,
        access_token_lifetime: int = ACCESS_TOKEN_LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ) -> TokenService:
        """Use the signing key persisted in *directory* (mode 0600), creating it once."""
        root = Path(directory)
        ensure_private_dir(root)
        path = root / SIGNING_KEY
        with directory_lock(root):
            key = _load_rsa_key(path)
            if key is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                write_atomic(path, pem, mode=0o600)
        return cls(key, access_token_lifetime=access_token_lifetime, clock=clock)

    def jwks(self) -> dict[str, Any]:
        """The public signing key as a JWK set (served at ``discovery/v2.0/keys``)."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._public_key))
        jwk.update({"kid": self.kid, "x5t": self.kid, "use": "sig"})
        return {"keys": [jwk]}

    # -- issuing ---------------------------------------------------------------------

    def issue_app_token(
        self,
        *,
        tenant_id: str,
        resource: Resource,
        client_id: str,
        app_display_name: str,
        roles: list[str],
        client_auth: str,
    ) -> str:
        """An app-only (client credentials) access token for *resource*."""
        oid = object_id(tenant_id, "sp", client_id)
        claims: dict[str, Any] = {
            "aud": resource.uri,
            "app_displayname": app_display_name,
            "appid": client_id,
            "appidacr": client_auth,
            "idp": access_token_issuer(tenant_id),
            "idtyp": "app",
            "oid": oid,
            "sub": oid,
        }
        if roles:
            claims["roles"] = roles
        return self._sign_access_token(tenant_id, claims)

    def issue_user_token(
        self,
        *,
        tenant_id: str,
        resource: Resource,
        client_id: str,
        app_display_name: str,
        username: str,
        scopes: list[str],
    ) -> str:
        """A delegated access token for a signed-in user, the user's name as ``upn``."""
        oid = object_id(tenant_id, "user", username)
        claims: dict[str, Any] = {
            "aud": resource.uri,
            "acr": "1",
            "amr": ["pwd"],
            "app_displayname": app_display_name,
            "appid": client_id,
            "appidacr": ACR_PUBLIC_CLIENT,
            "idtyp": "user",
            "name": username,
            "oid": oid,
            "scp": " ".join(scopes),
            "sub": oid,
            "unique_name": username,
            "upn": username,
        }
        return self._sign_access_token(tenant_id, claims)

    def issue_id_token(self, *, issuer: str, tenant_id: str, client_id: str, username: str) -> str:
        """A v2.0 ID token (msal reads it, unverified, to build the account)."""
        now = int(self._clock())
        oid = object_id(tenant_id, "user", username)
        return self._sign(
            {
                "aud": client_id,
                "iss": issuer,
                "iat": now,
                "nbf": now,
                "exp": now + self.access_token_lifetime,
                "name": username,
                "oid": oid,
                "preferred_username": username,
                "sub": oid,
                "tid": tenant_id,
                "ver": "2.0",
            }
        )

    def issue_refresh_token(
        self, *, tenant_id: str, client_id: str, username: str, scopes: list[str]
    ) -> str:
        """A refresh token. Signed rather than stored, so it survives a sandbox restart."""
        now = int(self._clock())
        return self._sign(
            {
                "typ": "refresh",
                "aud": client_id,
                "iss": access_token_issuer(tenant_id),
                "iat": now,
                "exp": now + REFRESH_TOKEN_LIFETIME_S,
                "tid": tenant_id,
                "upn": username,
                "scp": " ".join(scopes),
                "jti": secrets.token_hex(8),
            }
        )

    def read_refresh_token(self, token: str, *, client_id: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired refresh token issued to *client_id*, else None."""
        try:
            claims = self._decode(token)
        except TokenError:
            return None
        if claims.get("typ") != "refresh" or claims.get("aud") != client_id:
            return None
        if int(claims.get("exp", 0)) < self._clock():
            return None
        return claims

    # -- verifying -------------------------------------------------------------------

    def verify_access_token(
        self, token: str, *, audience: str, tenant_id: str, now: float | None = None
    ) -> dict[str, Any]:
        """Return the claims of *token* if it is valid for *audience* in *tenant_id*.

        *audience* is the resource URI (an app id URI form is accepted too); *now*
        (epoch seconds) defaults to the service clock. Raises a `TokenError` subclass.
        """
        claims = self._decode(token)
        moment = self._clock() if now is None else now
        try:
            exp, nbf = float(claims["exp"]), float(claims.get("nbf", claims["iat"]))
        except (KeyError, TypeError, ValueError):
            raise TokenMalformedError() from None
        if exp + CLOCK_SKEW_S < moment:
            raise TokenExpiredError()
        if nbf - CLOCK_SKEW_S > moment:
            raise TokenNotYetValidError()
        wanted = resource_for_audience(audience)
        token_aud = str(claims.get("aud", ""))
        if wanted is None or resource_for_audience(token_aud) != wanted:
            raise TokenAudienceError()
        token_tenant = str(claims.get("tid", ""))
        if token_tenant.lower() != tenant_id.lower():
            raise TokenTenantError(token_tenant, tenant_id)
        return claims

    # -- internals -------------------------------------------------------------------

    def _sign_access_token(self, tenant_id: str, claims: Mapping[str, Any]) -> str:
        now = int(self._clock())
        return self._sign(
            {
                **claims,
                "iss": access_token_issuer(tenant_id),
                "iat": now,
                "nbf": now,
                "exp": now + self.access_token_lifetime,
                "tid": tenant_id,
                "uti": _b64url(secrets.token_bytes(16)),
                "ver": "1.0",
            }
        )

    def _sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(
            dict(claims),
            self._key,
            algorithm="RS256",
            headers={"typ": "JWT", "kid": self.kid, "x5t": self.kid},
        )

    def _decode(self, token: str) -> dict[str, Any]:
        """Check format and signature only; the caller checks the claims it cares about."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenMalformedError() from None
        if header.get("alg") != "RS256":
            raise TokenSignatureError()
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenSignatureError() from None
        except jwt.InvalidTokenError:
            raise TokenMalformedError() from None
        if not isinstance(claims, dict):
            raise TokenMalformedError()
        return claims


def _load_rsa_key(path: Path) -> rsa.RSAPrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    return key if isinstance(key, rsa.RSAPrivateKey) else None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
