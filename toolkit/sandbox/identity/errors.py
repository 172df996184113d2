"""OAuth error responses with Entra's AADSTS codes and texts.

Each constructor below is one documented AADSTS error (reference-error-codes on
learn.microsoft.com) with the OAuth ``error`` value and HTTP status Entra pairs it with.
Choices worth knowing:

- unknown tenant (by name, domain or id): AADSTS90002 ``invalid_tenant``;
- unknown client id *and* a client not consented in the tenant: AADSTS700016
  ``unauthorized_client``. Entra has no separate "not consented" error for client
  credentials: an app without a service principal in a tenant is simply "not found in
  the directory" there (AADSTS650052 is about a *resource* lacking a service principal,
  AADSTS7000112 about a disabled app, neither applies);
- client credentials on ``/common`` or ``/organizations``: AADSTS50059;
- wrong secret: AADSTS7000215; no credential: AADSTS7000218;
- certificate assertions: AADSTS50027 (not a JWT), AADSTS700027 (unknown thumbprint,
  bad signature, expired certificate), AADSTS700021 (iss/sub not the client id),
  AADSTS700023 (wrong ``aud``), AADSTS700024 (outside its time range);
- scopes: AADSTS1002012 (client credentials without ``/.default``), AADSTS70011,
  AADSTS500011 (unknown resource), AADSTS28000 (scopes of two resources at once);
- a user signing in to a tenant where they are neither a member nor a partner with an
  accepted (active) delegated admin relationship: AADSTS50020 ``invalid_grant``. A GDAP
  request the customer has not approved yet grants nothing, so Entra sees a user who
  does not exist in that tenant (Entra has no separate code for "pending");
- device code: AADSTS70016 ``authorization_pending``, AADSTS70019 ``expired_token``,
  AADSTS70000 ``invalid_grant`` (unknown or already redeemed code, bad refresh token).

Descriptions never include a secret, an assertion or a token.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

_CERT_DOC = (
    "Review the documentation at "
    "https://learn.microsoft.com/entra/identity-platform/certificate-credentials."
)


class OAuthError(Exception):
    """An error answer of the token, device code or metadata endpoints."""

    def __init__(self, status: int, error: str, code: int, text: str) -> None:
        super().__init__(f"AADSTS{code}: {text}")
        self.status = status
        self.error = error
        self.code = code

    def body(self, correlation_id: str | None, now: dt.datetime | None = None) -> dict[str, Any]:
        """The JSON body Entra sends, with trace/correlation ids and a timestamp."""
        moment = now or dt.datetime.now(dt.UTC)
        timestamp = moment.strftime("%Y-%m-%d %H:%M:%SZ")
        trace_id = str(uuid.uuid4())
        correlation = correlation_id or str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": (
                f"{self}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation}"
                f"\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }


def tenant_not_found(tenant: str) -> OAuthError:
    return OAuthError(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, "
        "this may happen if there are no active subscriptions for the tenant.",
    )


def user_not_in_tenant(username: str, tenant: str, client_id: str,
                       client_name: str) -> OAuthError:
    return OAuthError(
        400,
        "invalid_grant",
        50020,
        f"User account '{username}' from identity provider 'https://sts.windows.net/' does "
        f"not exist in tenant '{tenant}' and cannot access the application "
        f"'{client_id}'({client_name}) in that tenant. The account needs to be added as an "
        "external user in the tenant first. Sign out and sign in again with a different "
        "Microsoft Entra user account.",
    )


def no_tenant_information() -> OAuthError:
    return OAuthError(
        400,
        "invalid_request",
        50059,
        "No tenant-identifying information found in either the request or implied by any "
        "provided credentials.",
    )


def application_not_found(client_id: str, tenant: str) -> OAuthError:
    return OAuthError(
        400,
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{tenant}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may "
        "have sent your authentication request to the wrong tenant.",
    )


def invalid_client_secret(client_id: str) -> OAuthError:
    return OAuthError(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app "
        f"'{client_id}'.",
    )


def missing_client_credential() -> OAuthError:
    return OAuthError(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'.",
    )


def malformed_assertion() -> OAuthError:
    return OAuthError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")


def certificate_not_registered(thumbprint: str, client_id: str) -> OAuthError:
    return OAuthError(
        401,
        "invalid_client",
        700027,
        "The certificate with identifier used to sign the client assertion is not "
        "registered on application. [Reason - The key was not found., Thumbprint of key "
        f"used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or "
        f"directly use MS Graph to see configured keys for app Id '{client_id}'.]",
    )


def assertion_bad_signature() -> OAuthError:
    return OAuthError(
        401, "invalid_client", 700027, "Client assertion failed signature validation."
    )


def certificate_expired(thumbprint: str) -> OAuthError:
    return OAuthError(
        401,
        "invalid_client",
        700027,
        "Client assertion contains an invalid signature. [Reason - The key used is expired., "
        f"Thumbprint of key used by client: '{thumbprint}']",
    )


def assertion_wrong_client() -> OAuthError:
    return OAuthError(
        401,
        "invalid_client",
        700021,
        f"Client assertion application identifier doesn't match 'client_id' parameter. {_CERT_DOC}",
    )


def assertion_wrong_audience() -> OAuthError:
    return OAuthError(
        401,
        "invalid_client",
        700023,
        f"Client assertion audience claim does not match Realm issuer. {_CERT_DOC}",
    )


def assertion_out_of_time_range(now: float, nbf: float, exp: float) -> OAuthError:
    def fmt(epoch: float) -> str:
        return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%m/%d/%Y %H:%M:%S")

    return OAuthError(
        401,
        "invalid_client",
        700024,
        f"Client assertion is not within its valid time range. Current time: {fmt(now)}, "
        f"assertion valid from {fmt(nbf)}, expiry time of assertion {fmt(exp)}. {_CERT_DOC}",
    )


def client_credentials_scope(scope: str) -> OAuthError:
    return OAuthError(
        400,
        "invalid_scope",
        1002012,
        f"The provided value for scope {scope} is not valid. Client credential flows must "
        "have a scope value with /.default suffixed to the resource identifier (application "
        "ID URI).",
    )


def invalid_scope(scope: str) -> OAuthError:
    return OAuthError(
        400,
        "invalid_scope",
        70011,
        f"The provided value for the input parameter 'scope' is not valid. The scope {scope} "
        "is not valid.",
    )


def resource_not_found(resource: str, tenant: str) -> OAuthError:
    return OAuthError(
        400,
        "invalid_resource",
        500011,
        f"The resource principal named {resource} was not found in the tenant named "
        f"{tenant}. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You might "
        "have sent your authentication request to the wrong tenant.",
    )


def missing_parameter(name: str) -> OAuthError:
    return OAuthError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


def unsupported_grant_type(grant_type: str) -> OAuthError:
    return OAuthError(
        400,
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant_type}'.",
    )


def authorization_pending() -> OAuthError:
    return OAuthError(
        400,
        "authorization_pending",
        70016,
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
    )


def device_code_expired() -> OAuthError:
    return OAuthError(400, "expired_token", 70019, "Verification code expired.")


def invalid_grant() -> OAuthError:
    return OAuthError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")


def multiple_resources(scope: str) -> OAuthError:
    return OAuthError(
        400,
        "invalid_scope",
        28000,
        f"Provided value for the input parameter scope '{scope}' is not valid because it "
        "contains more than one resource.",
    )
