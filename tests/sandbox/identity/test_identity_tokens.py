"""Access tokens: shape, persistence of the signing key, and verification failures."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from toolkit.sandbox.identity import (
    EXCHANGE_ONLINE,
    MICROSOFT_GRAPH,
    TokenAudienceError,
    TokenError,
    TokenExpiredError,
    TokenMalformedError,
    TokenNotYetValidError,
    TokenService,
    TokenSignatureError,
    TokenTenantError,
)
from toolkit.sandbox.identity.resources import Resource

TENANT = "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
OTHER_TENANT = "0a1b2c3d-4e5f-4061-9273-8495a6b7c8d9"
EXO = "https://outlook.office365.com"
GRAPH = "https://graph.microsoft.com"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> TokenService:
    return TokenService.load_or_create(tmp_path_factory.mktemp("keys"), clock=lambda: NOW)


def app_token(service: TokenService, resource: Resource = EXCHANGE_ONLINE,
              tenant: str = TENANT) -> str:
    return service.issue_app_token(
        tenant_id=tenant, resource=resource, client_id="app-id", app_display_name="app",
        roles=["Exchange.ManageAsApp"], client_auth="2")


def test_app_token_claims(service: TokenService) -> None:
    claims = service.verify_access_token(app_token(service), audience=EXO, tenant_id=TENANT)
    assert claims["aud"] == EXO
    assert claims["tid"] == TENANT
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["ver"] == "1.0"
    assert claims["roles"] == ["Exchange.ManageAsApp"]
    assert (claims["nbf"], claims["exp"]) == (int(NOW), int(NOW) + 3599)
    assert claims["oid"] == claims["sub"]
    assert "scp" not in claims and "upn" not in claims


def test_user_token_claims(service: TokenService) -> None:
    token = service.issue_user_token(
        tenant_id=TENANT, resource=MICROSOFT_GRAPH, client_id="client", app_display_name="c",
        username="agent1", scopes=["User.Read.All", "Domain.Read.All"])
    claims = service.verify_access_token(token, audience=GRAPH + "/", tenant_id=TENANT.upper())
    assert claims["upn"] == "agent1"
    assert claims["scp"] == "User.Read.All Domain.Read.All"
    assert claims["idtyp"] == "user"
    assert "roles" not in claims


def test_graph_app_id_is_accepted_as_audience(service: TokenService) -> None:
    token = app_token(service, MICROSOFT_GRAPH)
    service.verify_access_token(token, audience=MICROSOFT_GRAPH.app_id, tenant_id=TENANT)


def test_wrong_audience(service: TokenService) -> None:
    message = r"^Access token validation failure\. Invalid audience\.$"
    with pytest.raises(TokenAudienceError, match=message):
        service.verify_access_token(app_token(service), audience=GRAPH, tenant_id=TENANT)
    with pytest.raises(TokenAudienceError):
        service.verify_access_token(app_token(service), audience="https://example.com",
                                    tenant_id=TENANT)


def test_wrong_tenant(service: TokenService) -> None:
    message = f"issued for tenant '{TENANT}', not for '{OTHER_TENANT}'"
    with pytest.raises(TokenTenantError, match=message):
        service.verify_access_token(app_token(service), audience=EXO, tenant_id=OTHER_TENANT)


def test_expired_and_not_yet_valid(service: TokenService) -> None:
    token = app_token(service)
    # within the 5 minutes of clock skew it is still accepted
    service.verify_access_token(token, audience=EXO, tenant_id=TENANT, now=NOW + 3599 + 299)
    message = r"^Lifetime validation failed, the token is expired\.$"
    with pytest.raises(TokenExpiredError, match=message) as failure:
        service.verify_access_token(token, audience=EXO, tenant_id=TENANT, now=NOW + 3599 + 301)
    assert failure.value.code == "InvalidAuthenticationToken"
    assert failure.value.status == 401
    with pytest.raises(TokenNotYetValidError):
        service.verify_access_token(token, audience=EXO, tenant_id=TENANT, now=NOW - 301)


def test_lifetime_is_checked_before_audience(service: TokenService) -> None:
    with pytest.raises(TokenExpiredError):
        service.verify_access_token(app_token(service), audience=GRAPH, tenant_id=OTHER_TENANT,
                                    now=NOW + 7200)


def test_tampered_token(service: TokenService) -> None:
    header, payload, signature = app_token(service).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["Exchange.ManageAsApp", "Mailbox.Everything"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    token = f"{header}.{forged}.{signature}"
    with pytest.raises(TokenSignatureError) as failure:
        service.verify_access_token(token, audience=EXO, tenant_id=TENANT)
    assert token not in str(failure.value)


def test_token_signed_by_another_key(tmp_path: Path, service: TokenService) -> None:
    stranger = TokenService.load_or_create(tmp_path, clock=lambda: NOW)
    with pytest.raises(TokenSignatureError):
        service.verify_access_token(app_token(stranger), audience=EXO, tenant_id=TENANT)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z"])
def test_malformed_token(service: TokenService, garbage: str) -> None:
    with pytest.raises(TokenMalformedError, match="CompactToken parsing failed"):
        service.verify_access_token(garbage, audience=EXO, tenant_id=TENANT)


def test_refresh_and_id_tokens_are_not_access_tokens(service: TokenService) -> None:
    refresh = service.issue_refresh_token(tenant_id=TENANT, client_id="c", username="u",
                                          scopes=["openid"])
    id_token = service.issue_id_token(issuer="https://x/y/v2.0", tenant_id=TENANT,
                                      client_id="c", username="u")
    for token in (refresh, id_token):
        with pytest.raises(TokenError):
            service.verify_access_token(token, audience=EXO, tenant_id=TENANT)
    assert service.read_refresh_token(refresh, client_id="c") is not None
    assert service.read_refresh_token(refresh, client_id="other") is None
    assert service.read_refresh_token(app_token(service), client_id="app-id") is None


def test_signing_key_is_persisted_privately(tmp_path: Path) -> None:
    first = TokenService.load_or_create(tmp_path, clock=lambda: NOW)
    second = TokenService.load_or_create(tmp_path, clock=lambda: NOW)
    assert first.kid == second.kid
    assert (tmp_path / "token-signing.key").stat().st_mode & 0o777 == 0o600
    second.verify_access_token(app_token(first), audience=EXO, tenant_id=TENANT)
    assert second.jwks()["keys"][0]["kid"] == first.kid
