"""The token and device authorization endpoints: grants, client authentication, scopes.

Grants served at ``/{tenant}/oauth2/v2.0/token``:

- ``client_credentials``: a seeded app authenticated by ``client_secret`` (form body or
  HTTP Basic) or by a certificate ``client_assertion``; ``scope`` must be exactly one
  ``<resource>/.default``; the token's ``roles`` are the app's seeded roles that belong
  to that resource. Needs a specific tenant in which the app is consented.
- ``urn:ietf:params:oauth:grant-type:device_code``: redeems an approved device code.
- ``refresh_token``: a delegated token for any of the two resources, as Entra's
  multi-resource refresh tokens allow, in the tenant of the authority it is redeemed at.

A user gets delegated tokens only in a tenant they belong to, or in a customer tenant
whose delegated admin relationship with them is active (``Tenant.partners``); elsewhere
Entra answers AADSTS50020.

Delegated sign-ins accept Microsoft's first-party public clients (see
`model.FIRST_PARTY_PUBLIC_CLIENTS`) in every tenant, and seeded apps where consented.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from toolkit.sandbox.identity import errors
from toolkit.sandbox.identity.assertion import verify_client_assertion
from toolkit.sandbox.identity.devicecode import DeviceCodeStore
from toolkit.sandbox.identity.model import (
    FIRST_PARTY_PUBLIC_CLIENTS,
    Account,
    AppRegistration,
    Directory,
    Tenant,
)
from toolkit.sandbox.identity.resources import (
    MICROSOFT_GRAPH,
    OIDC_SCOPES,
    Resource,
    app_roles_for,
    resource_for_audience,
    resource_for_scope,
)
from toolkit.sandbox.identity.tokens import (
    ACR_CERTIFICATE,
    ACR_CLIENT_SECRET,
    TokenService,
    object_id,
)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
APPROVE_PATH = "/_sandbox/devicecode/approve"
DEVICE_LOGIN_PATH = "/_sandbox/devicelogin"


@dataclass(frozen=True)
class EndpointRequest:
    """A request to a tenant-scoped endpoint, already routed.

    ``segment`` is the tenant as written in the URL; ``tenant`` is None for the
    ``organizations`` and ``common`` authorities.
    """

    segment: str
    tenant: Tenant | None
    base_url: str
    form: Mapping[str, str]
    authorization: str | None


@dataclass(frozen=True)
class DelegatedScopes:
    """A delegated request's scopes, split into the resource part and the OIDC part."""

    resource: Resource
    permissions: tuple[str, ...]
    requested: tuple[str, ...]
    oidc: frozenset[str]

    def granted(self) -> list[str]:
        """The ``scope`` value of the token response: granted, then requested, scopes."""
        full = [f"{self.resource.uri}/{p}" for p in self.permissions]
        return list(dict.fromkeys([*full, *self.requested]))


class TokenEndpoint:
    """Implements the OAuth endpoints over a `Directory` and a `TokenService`."""

    def __init__(
        self,
        directory: Directory,
        tokens: TokenService,
        device_codes: DeviceCodeStore,
        *,
        device_code_interval: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._tokens = tokens
        self._device_codes = device_codes
        self._interval = device_code_interval
        self._clock = clock

    # -- /devicecode -------------------------------------------------------------------

    def device_authorization(self, request: EndpointRequest) -> dict[str, Any]:
        client_id = _required(request.form, "client_id")
        label = request.tenant.name if request.tenant else request.segment
        self._public_client_name(client_id, request.tenant, label)
        scopes = parse_delegated_scopes(_required(request.form, "scope"), request.segment)
        flow = self._device_codes.start(
            client_id=client_id.lower(),
            tenant=request.tenant,
            scopes=(*scopes.requested, *sorted(scopes.oidc)),
        )
        login = request.base_url + DEVICE_LOGIN_PATH
        return {
            "user_code": flow.user_code,
            "device_code": flow.device_code,
            "verification_uri": login,
            "expires_in": self._device_codes.lifetime,
            "interval": self._interval,
            "message": (
                f"To sign in to the psbridge sandbox, run 'psbridge sandbox approve "
                f"{flow.user_code}' (or see {login}) to authenticate."
            ),
        }

    # -- /token ------------------------------------------------------------------------

    def token(self, request: EndpointRequest) -> dict[str, Any]:
        grant_type = _required(request.form, "grant_type")
        if grant_type == "client_credentials":
            return self._client_credentials(request)
        if grant_type in (DEVICE_CODE_GRANT, "device_code"):
            return self._device_code(request)
        if grant_type == "refresh_token":
            return self._refresh(request)
        raise errors.unsupported_grant_type(grant_type)

    def _client_credentials(self, request: EndpointRequest) -> dict[str, Any]:
        basic = parse_basic_authorization(request.authorization)
        if basic is not None:  # RFC 6749 2.3.1: both halves are form-encoded first
            basic = (unquote_plus(basic[0]), unquote_plus(basic[1]))
        client_id = request.form.get("client_id") or (basic[0] if basic else "")
        if not client_id:
            raise errors.missing_parameter("client_id")
        tenant = request.tenant
        if tenant is None:
            raise errors.no_tenant_information()
        app = self._directory.app(client_id)
        if app is None or not self._directory.is_consented(app, tenant):
            raise errors.application_not_found(client_id, tenant.name)
        client_auth = self._authenticate_client(request, app, tenant, basic)
        scope = _required(request.form, "scope")
        parts = scope.split()
        if len(parts) != 1 or not parts[0].endswith("/.default"):
            raise errors.client_credentials_scope(scope)
        resource_uri = parts[0].removesuffix("/.default")
        resource = resource_for_audience(resource_uri)
        if resource is None:
            raise errors.resource_not_found(resource_uri, tenant.name)
        access_token = self._tokens.issue_app_token(
            tenant_id=tenant.id,
            resource=resource,
            client_id=app.client_id,
            app_display_name=app.display_name,
            roles=app_roles_for(resource, app.roles),
            client_auth=client_auth,
        )
        lifetime = self._tokens.access_token_lifetime
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
        }

    def _authenticate_client(
        self,
        request: EndpointRequest,
        app: AppRegistration,
        tenant: Tenant,
        basic: tuple[str, str] | None,
    ) -> str:
        """Check the client's credential; return its ``appidacr`` value."""
        assertion = request.form.get("client_assertion")
        if assertion:
            if request.form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
                raise errors.missing_parameter("client_assertion_type")
            verify_client_assertion(
                assertion,
                app=app,
                tenant=tenant,
                resolve_tenant=self._directory.tenant,
                now=self._clock(),
            )
            return ACR_CERTIFICATE
        secret = request.form.get("client_secret") or (basic[1] if basic else "")
        if not secret:
            raise errors.missing_client_credential()
        if app.client_secret is None or not hmac.compare_digest(
            app.client_secret.encode(), secret.encode()
        ):
            raise errors.invalid_client_secret(app.client_id)
        return ACR_CLIENT_SECRET

    def _device_code(self, request: EndpointRequest) -> dict[str, Any]:
        client_id = _required(request.form, "client_id")
        device_code = _required(request.form, "device_code")
        flow = self._device_codes.redeem(device_code, client_id.lower())
        account = flow.approved_by
        assert account is not None  # redeem returns approved flows only
        tenant = flow.tenant or self._directory.home_tenant(account)
        if tenant is None:
            raise errors.no_tenant_information()
        client_name = self._public_client_name(client_id, tenant, tenant.name)
        self._check_member(account, tenant, client_id, client_name)
        scopes = parse_delegated_scopes(" ".join(flow.scopes), tenant.name)
        return self._user_token_response(request, tenant, client_id, client_name, account, scopes)

    def _check_member(self, account: Account, tenant: Tenant, client_id: str,
                      client_name: str) -> None:
        """A user gets tokens only where they are a member or an active partner (GDAP)."""
        if not self._directory.may_sign_in(account, tenant):
            raise errors.user_not_in_tenant(account.username, tenant.name, client_id,
                                            client_name)

    def _refresh(self, request: EndpointRequest) -> dict[str, Any]:
        client_id = _required(request.form, "client_id")
        claims = self._tokens.read_refresh_token(
            _required(request.form, "refresh_token"), client_id=client_id.lower()
        )
        if claims is None:
            raise errors.invalid_grant()
        issued_in = self._directory.tenant(str(claims.get("tid", "")))
        account = self._directory.account(str(claims.get("upn", "")))
        if issued_in is None or account is None:
            raise errors.invalid_grant()
        # A user's refresh token is redeemed at another tenant's authority for a token of
        # that tenant (a partner reaching a customer), if the user may sign in there.
        tenant = request.tenant or issued_in
        client_name = self._public_client_name(client_id, tenant, tenant.name)
        self._check_member(account, tenant, client_id, client_name)
        scope = request.form.get("scope") or str(claims.get("scp", ""))
        scopes = parse_delegated_scopes(scope, tenant.name)
        return self._user_token_response(request, tenant, client_id, client_name, account, scopes)

    def _user_token_response(
        self,
        request: EndpointRequest,
        tenant: Tenant,
        client_id: str,
        client_name: str,
        account: Account,
        scopes: DelegatedScopes,
    ) -> dict[str, Any]:
        client_id = client_id.lower()
        lifetime = self._tokens.access_token_lifetime
        granted = scopes.granted()
        response: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join([*granted, *sorted(scopes.oidc)]),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self._tokens.issue_user_token(
                tenant_id=tenant.id,
                resource=scopes.resource,
                client_id=client_id,
                app_display_name=client_name,
                username=account.username,
                scopes=list(scopes.permissions),
            ),
        }
        if "offline_access" in scopes.oidc:
            response["refresh_token"] = self._tokens.issue_refresh_token(
                tenant_id=tenant.id,
                client_id=client_id,
                username=account.username,
                scopes=[*scopes.requested, *sorted(scopes.oidc)],
            )
        if "openid" in scopes.oidc:
            response["id_token"] = self._tokens.issue_id_token(
                issuer=f"{request.base_url}/{tenant.id}/v2.0",
                tenant_id=tenant.id,
                client_id=client_id,
                username=account.username,
            )
        if request.form.get("client_info") == "1":
            info = {"uid": object_id(tenant.id, "user", account.username), "utid": tenant.id}
            response["client_info"] = _b64url_json(info)
        return response

    def _public_client_name(self, client_id: str, tenant: Tenant | None, segment: str) -> str:
        """The display name of a client allowed to sign users in to *tenant*."""
        first_party = FIRST_PARTY_PUBLIC_CLIENTS.get(client_id.lower())
        if first_party:
            return first_party
        app = self._directory.app(client_id)
        if app is None or (tenant is not None and not self._directory.is_consented(app, tenant)):
            raise errors.application_not_found(client_id, segment)
        return app.display_name


def parse_delegated_scopes(scope: str, tenant_label: str) -> DelegatedScopes:
    """Split a delegated ``scope`` string; one resource at most (Graph when none named)."""
    words = scope.split()
    oidc = frozenset(w for w in words if w in OIDC_SCOPES)
    requested = tuple(w for w in words if w not in OIDC_SCOPES)
    resource: Resource | None = None
    permissions: list[str] = []
    for word in requested:
        found, permission = resource_for_scope(word)
        if found is None:
            raise errors.resource_not_found(word.rpartition("/")[0], tenant_label)
        if resource is not None and found != resource:
            raise errors.multiple_resources(scope)
        resource = found
        if not permission:
            raise errors.invalid_scope(word)
        if permission == ".default":
            permissions.extend(found.default_delegated_scopes)
        else:
            permissions.append(permission)
    if resource is None:  # only OpenID scopes: Entra answers with a Graph token
        resource, permissions = MICROSOFT_GRAPH, ["User.Read"]
    return DelegatedScopes(
        resource=resource,
        permissions=tuple(dict.fromkeys(permissions)),
        requested=requested,
        oidc=oidc,
    )


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise errors.missing_parameter(name)
    return value


def parse_basic_authorization(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from an HTTP Basic ``Authorization`` header, if it is one."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def _b64url_json(value: Mapping[str, str]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
