"""The sandbox's identity platform (Microsoft's OAuth2/OIDC endpoints) and TLS material.

Entry points: `IdentityPlatform` (mount its ``handle`` on the HTTPS server),
`ensure_tls_material` (CA and server certificate), `make_app_certificate` (app-only
certificate credentials) and `TokenError` (what token verification raises).
"""

from toolkit.sandbox.identity.certs import (
    AppCertificate,
    TlsMaterial,
    certificate_thumbprint,
    ensure_tls_material,
    make_app_certificate,
)
from toolkit.sandbox.identity.devicecode import DeviceCodeError
from toolkit.sandbox.identity.model import Account, AppRegistration, Tenant
from toolkit.sandbox.identity.platform import IdentityPlatform
from toolkit.sandbox.identity.resources import EXCHANGE_ONLINE, MICROSOFT_GRAPH
from toolkit.sandbox.identity.tokens import (
    TokenAudienceError,
    TokenError,
    TokenExpiredError,
    TokenMalformedError,
    TokenNotYetValidError,
    TokenService,
    TokenSignatureError,
    TokenTenantError,
)

__all__ = [
    "EXCHANGE_ONLINE",
    "MICROSOFT_GRAPH",
    "Account",
    "AppCertificate",
    "AppRegistration",
    "DeviceCodeError",
    "IdentityPlatform",
    "Tenant",
    "TlsMaterial",
    "TokenAudienceError",
    "TokenError",
    "TokenExpiredError",
    "TokenMalformedError",
    "TokenNotYetValidError",
    "TokenService",
    "TokenSignatureError",
    "TokenTenantError",
    "certificate_thumbprint",
    "ensure_tls_material",
    "make_app_certificate",
]
