"""The sandbox's identity platform: Microsoft's OAuth2/OIDC endpoints, played locally.

The sandbox's HTTPS server routes every request that is not WSMan to
`IdentityPlatform.handle`; psbridge's unmodified msal code then signs in against it.

Endpoints (``{tenant}`` is a tenant's name, verified domain or id; ``organizations``
and ``common`` where Entra allows them):

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` — tenant discovery. This is
  the only metadata msal 1.39 fetches when instance discovery is off.
- ``GET /{tenant}/discovery/v2.0/keys`` — the token signing key (JWKS).
- ``POST /{tenant}/oauth2/v2.0/token`` — see `grants` for the grants served.
- ``POST /{tenant}/oauth2/v2.0/devicecode`` — starts a device-code sign-in.
- ``GET /{tenant}/oauth2/v2.0/authorize`` — answers that interactive sign-in is not
  available in the sandbox (an honest error rather than a page that never works).
- ``POST /_sandbox/devicecode/approve`` — approves a pending device code, for
  ``psbridge sandbox approve CODE`` in another process. HTTP Basic with a sandbox
  account's username and password; body JSON ``{"user_code": "...", "account": "..."}``
  or the same as a form. ``account`` is optional and, when given, must be the
  authenticated account: the sign-in is approved *as the authenticated account*, whose
  username becomes the token's ``upn``. Answers 200 ``{"status": "approved",
  "user_code": ..., "account": ...}``; 400 without a user code; 401 (with
  ``WWW-Authenticate: Basic``) for bad credentials; 403 when ``account`` names someone
  else or when the account may not sign in to the flow's tenant (AADSTS50020: not a
  member, and no active partner relationship); 404 unknown code; 409 already approved;
  410 expired.
- ``GET /_sandbox/devicelogin`` — the ``verification_uri``: plain text saying how to
  approve.

Errors of the OAuth endpoints are Entra's JSON error bodies (see `errors`).

**Base URL.** The platform does not know its own address: endpoint URLs in the OpenID
configuration and the device-code answers are built from each request's ``Host``
header (``https://{Host}``), so one platform serves clients that reach the sandbox as
``127.0.0.1``, ``[::1]`` or ``localhost`` on whatever port the server bound. A request
without a valid ``Host`` is refused (400). Access tokens do not embed that URL (see
`tokens`), so they survive a restart on another port.

**msal settings a client must use** (msal 1.39; both client kinds)::

    session = requests.Session()
    session.verify = str(tls.ca_cert)          # the sandbox CA; never verify=False
    session.trust_env = False                  # see below
    msal.PublicClientApplication(              # or ConfidentialClientApplication
        client_id,
        authority=f"{sandbox_url}/{tenant}",   # https://127.0.0.1:PORT/contoso.onmicrosoft.com
        instance_discovery=False,              # else msal asks login.microsoftonline.com
        http_client=session,
        azure_region=False,                    # confidential clients: ignore MSAL_FORCE_REGION
    )

Why not msal's own ``verify=ca_path``: msal sets it on a ``requests.Session``, and
requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from the environment override a
session's ``verify`` (they are common in containers and CI images), so the CA would
be ignored and TLS fail. (pypsrp is not affected: it applies the environment's bundle
only when ``cert_validation`` is True.) ``trust_env = False`` stops that, and also keeps an
``HTTPS_PROXY`` from routing loopback traffic through a proxy. ``verify=`` works only
where neither variable is set. ``validate_authority=False`` also turns instance
discovery off and is acceptable. Certificate credentials may be given as
``{"private_key": PEM, "thumbprint": SHA1}`` (RS256 assertion with ``x5t``) or
``{"private_key": PEM, "public_certificate": PEM}`` (PS256 with ``x5t#S256``).
Client credentials need a specific tenant (``/common`` gives AADSTS50059). The
device flow's ``interval`` is `IdentityPlatform`'s ``device_code_interval``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from toolkit.sandbox.identity import errors
from toolkit.sandbox.identity.devicecode import DeviceCodeError, DeviceCodeStore, DeviceFlow
from toolkit.sandbox.identity.grants import (
    APPROVE_PATH,
    DEVICE_LOGIN_PATH,
    EndpointRequest,
    TokenEndpoint,
    parse_basic_authorization,
)
from toolkit.sandbox.identity.model import Account, AppRegistration, Directory, Tenant
from toolkit.sandbox.identity.tokens import ACCESS_TOKEN_LIFETIME_S, TokenService

log = logging.getLogger(__name__)

Response = tuple[int, dict[str, str], bytes]

MULTI_TENANT_AUTHORITIES = frozenset({"organizations", "common"})

_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_JSON_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store, no-cache",
    "Pragma": "no-cache",
}


class IdentityPlatform:
    """Microsoft identity platform endpoints for the sandbox's tenants.

    *tenants*, *apps* and *accounts* come from the seed (see `model`). The token
    signing key lives in *state_dir* (the directory holding the TLS material), created
    on first use. *clock* (epoch seconds) exists for tests of expiry.

    The emulated connect cmdlets use ``verify_access_token`` for ``-AccessToken`` and
    ``directory`` for app-only certificate connects (``directory.app(client_id)``,
    its ``certificate_thumbprint``, ``directory.is_consented(app, tenant)``).
    """

    def __init__(
        self,
        tenants: Iterable[Tenant],
        apps: Iterable[AppRegistration],
        accounts: Iterable[Account],
        *,
        state_dir: str | Path,
        access_token_lifetime: int = ACCESS_TOKEN_LIFETIME_S,
        device_code_lifetime: int = 900,
        device_code_interval: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Directory(tenants, apps, accounts)
        self.tokens = TokenService.load_or_create(
            state_dir, access_token_lifetime=access_token_lifetime, clock=clock
        )
        self._device_codes = DeviceCodeStore(lifetime=device_code_lifetime, clock=clock)
        self._endpoint = TokenEndpoint(
            self.directory,
            self.tokens,
            self._device_codes,
            device_code_interval=device_code_interval,
            clock=clock,
        )

    # -- Python API --------------------------------------------------------------------

    def approve(self, user_code: str, account: str) -> None:
        """Approve a pending device-code sign-in as *account* (a sandbox username).

        Raises `DeviceCodeError` for an unknown account, or an unknown, expired or
        already approved code.
        """
        found = self.directory.account(account)
        if found is None:
            raise DeviceCodeError(f"No sandbox account is named '{account}'.")
        self._approve(user_code, found)

    def verify_access_token(
        self, token: str, *, audience: str, tenant_id: str, now: float | None = None
    ) -> dict[str, Any]:
        """Claims of a valid access token; see `TokenService.verify_access_token`."""
        return self.tokens.verify_access_token(
            token, audience=audience, tenant_id=tenant_id, now=now
        )

    # -- HTTP --------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        """Answer one HTTP request: (status, headers without Content-Length, body).

        *query* is accepted for the server's convenience; no endpoint uses it.
        """
        del query
        lowered = {k.lower(): v for k, v in headers.items()}
        host = lowered.get("host", "")
        if not _HOST.match(host):
            return _text(400, "Bad Request: a valid Host header is required.")
        base_url = f"https://{host}"
        segments = [unquote(s) for s in path.split("/") if s]
        if path.rstrip("/") == APPROVE_PATH:
            return _only(method, "POST") or self._approve_endpoint(lowered, body)
        if path.rstrip("/") == DEVICE_LOGIN_PATH:
            return _only(method, "GET") or _text(200, _DEVICE_LOGIN_TEXT)
        if len(segments) < 2:
            return _not_found()
        segment, rest = segments[0], segments[1:]
        correlation_id = lowered.get("client-request-id")
        try:
            return self._tenant_endpoint(method, segment, rest, base_url, lowered, body)
        except errors.OAuthError as exc:
            log.info("identity: %s %s -> AADSTS%s", method, path, exc.code)
            return _json(exc.status, exc.body(correlation_id))

    def _tenant_endpoint(
        self,
        method: str,
        segment: str,
        rest: list[str],
        base_url: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        route = "/".join(rest)
        if route not in _ROUTES:
            return _not_found()
        allowed = _ROUTES[route]
        if method != allowed:
            return _method_not_allowed(allowed)
        tenant = self.directory.tenant(segment)
        if tenant is None and segment.lower() not in MULTI_TENANT_AUTHORITIES:
            raise errors.tenant_not_found(segment)
        if route == "v2.0/.well-known/openid-configuration":
            return _json(200, _openid_configuration(base_url, segment, tenant))
        if route == "discovery/v2.0/keys":
            return _json(200, self.tokens.jwks())
        if route == "oauth2/v2.0/authorize":
            return _text(400, _NO_INTERACTIVE_TEXT)
        request = EndpointRequest(
            segment=segment,
            tenant=tenant,
            base_url=base_url,
            form=_form(body),
            authorization=headers.get("authorization"),
        )
        if route == "oauth2/v2.0/devicecode":
            return _json(200, self._endpoint.device_authorization(request))
        answer = self._endpoint.token(request)
        log.info("identity: token issued to client %s", request.form.get("client_id", "?"))
        return _json(200, answer)

    def _approve_endpoint(self, headers: Mapping[str, str], body: bytes) -> Response:
        credentials = parse_basic_authorization(headers.get("authorization"))
        account = self.directory.authenticate(*credentials) if credentials else None
        if account is None:
            answer = _json(401, {"error": "unauthorized", "message": "Sandbox sign-in failed."})
            answer[1]["WWW-Authenticate"] = 'Basic realm="psbridge sandbox", charset="UTF-8"'
            return answer
        fields = _approval_fields(headers.get("content-type", ""), body)
        if fields is None or not fields.get("user_code"):
            return _json(400, {"error": "invalid_request", "message": "user_code is required."})
        named = fields.get("account")
        if named and named.lower() != account.username.lower():
            message = "An account can approve sign-ins only as itself."
            return _json(403, {"error": "forbidden", "message": message})
        try:
            flow = self._approve(fields["user_code"], account)
        except DeviceCodeError as exc:
            return _json(exc.status, {"error": exc.reason, "message": str(exc)})
        result = {"status": "approved", "user_code": flow.user_code, "account": account.username}
        return _json(200, result)

    def _approve(self, user_code: str, account: Account) -> DeviceFlow:
        flow = self._device_codes.approve(user_code, account)
        log.info("identity: device code %s approved by %s", flow.user_code, account.username)
        if flow.tenant is not None and not self.directory.may_sign_in(account, flow.tenant):
            # The sign-in page refuses; the polling client gets the same error on redeem.
            error = errors.user_not_in_tenant(account.username, flow.tenant.name,
                                              flow.client_id, flow.client_id)
            raise DeviceCodeError(str(error), status=403, reason="user_not_in_tenant")
        return flow


_ROUTES: Mapping[str, str] = {
    "v2.0/.well-known/openid-configuration": "GET",
    "discovery/v2.0/keys": "GET",
    "oauth2/v2.0/authorize": "GET",
    "oauth2/v2.0/token": "POST",
    "oauth2/v2.0/devicecode": "POST",
}

_DEVICE_LOGIN_TEXT = (
    "psbridge sandbox device sign-in\n\n"
    "Approve a code shown by a device-code sign-in with:\n"
    "    psbridge sandbox approve CODE\n"
    f'or POST {{"user_code": "CODE"}} to {APPROVE_PATH} with HTTP Basic\n'
    "authentication of a sandbox account; the sign-in is approved as that account.\n"
)

_NO_INTERACTIVE_TEXT = (
    "The psbridge sandbox identity platform does not offer interactive (authorization "
    "code) sign-in. Use the device code flow or client credentials.\n"
)


def _openid_configuration(base_url: str, segment: str, tenant: Tenant | None) -> dict[str, Any]:
    """Entra's v2.0 metadata: a real tenant's endpoints use its id, like Entra's do."""
    path = tenant.id if tenant else segment.lower()
    issuer_tenant = tenant.id if tenant else "{tenantid}"
    root = f"{base_url}/{path}"
    return {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base_url}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "nbf",
            "name",
            "oid",
            "tid",
            "preferred_username",
            "ver",
        ],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "msgraph_host": "graph.microsoft.com",
    }


def _form(body: bytes) -> dict[str, str]:
    """An urlencoded body as a dict (first value wins, as Entra reads it)."""
    form: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(key, value)
    return form


def _approval_fields(content_type: str, body: bytes) -> dict[str, str] | None:
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return {k: str(v) for k, v in data.items() if isinstance(v, str | int)}
    return _form(body)


def _json(status: int, payload: Mapping[str, Any]) -> Response:
    return status, dict(_JSON_HEADERS), json.dumps(payload).encode("utf-8")


def _text(status: int, text: str) -> Response:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode("utf-8")


def _not_found() -> Response:
    return _json(404, {"error": "not_found", "message": "No such identity platform endpoint."})


def _method_not_allowed(allowed: str) -> Response:
    status, headers, body = _json(
        405, {"error": "method_not_allowed", "message": f"Use {allowed}."}
    )
    headers["Allow"] = allowed
    return status, headers, body


def _only(method: str, allowed: str) -> Response | None:
    return None if method == allowed else _method_not_allowed(allowed)
