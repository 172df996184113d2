"""IdentityPlatform.handle driven directly: routing, errors, device-code life cycle, assertions."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from identity_seed import (
    AGENT_PASSWORD,
    APP_ID,
    APP_SECRET,
    CONTOSO_ID,
    FABRIKAM_ID,
    build_platform,
)

from toolkit.sandbox.identity import (
    AppCertificate,
    DeviceCodeError,
    IdentityPlatform,
    make_app_certificate,
)
from toolkit.sandbox.identity.model import Account, AppRegistration

HOST = "127.0.0.1:8443"
BASE = f"https://{HOST}"
EXO_DEFAULT = "https://outlook.office365.com/.default"
EXO_PS_CLIENT = "fb78d390-0c51-40cd-8e17-fdbfab77341b"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(seed: dict[str, Any], state_dir: Path, clock: Clock) -> IdentityPlatform:
    return build_platform(seed, state_dir, clock=clock)


def call(platform: IdentityPlatform, method: str, path: str, form: dict[str, str] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    body = urlencode(form or {}).encode()
    status, out_headers, payload = platform.handle(
        method, path, "", {"Host": HOST, **(headers or {})}, body)
    is_json = out_headers.get("Content-Type", "").startswith("application/json")
    return status, out_headers, json.loads(payload) if is_json else payload.decode()


def token(platform: IdentityPlatform, form: dict[str, str],
          tenant: str = "contoso.onmicrosoft.com") -> tuple[int, Any]:
    status, _, answer = call(platform, "POST", f"/{tenant}/oauth2/v2.0/token", form)
    return status, answer


# -- metadata and routing ------------------------------------------------------------


def test_openid_configuration_uses_tenant_id_and_request_host(
        platform: IdentityPlatform) -> None:
    """Discovery by a verified domain answers with the tenant's id in every endpoint: what
    psbridge resolves ``--tenant fabrikam.com`` and a trustee's address domain with.

    Evidence: learn.microsoft.com/dotnet/api/microsoft.identity.client.
    abstractacquiretokenparameterbuilder-1.withtenantid (the tenant is "Tenant ID of the
    Microsoft Entra ID tenant or a domain associated with this Microsoft Entra ID tenant");
    learn.microsoft.com/graph/api/tenantrelationship-findtenantinformationbydomainname
    ("Given a domain name, search for a tenant"); a published transcript of
    ``login.windows.net/contoso.com/v2.0/.well-known/openid-configuration`` with the
    tenant id in token_endpoint, issuer and jwks_uri:
    gist.github.com/joerodgers/fbf418a4347cf1be48dbf3ee86a59310."""
    status, headers, config = call(
        platform, "GET", "/contoso.com/v2.0/.well-known/openid-configuration",
        headers={"Host": "[::1]:9999"})
    assert status == 200
    assert headers["Cache-Control"].startswith("no-store")
    root = f"https://[::1]:9999/{CONTOSO_ID}"
    assert config["token_endpoint"] == f"{root}/oauth2/v2.0/token"
    assert config["device_authorization_endpoint"] == f"{root}/oauth2/v2.0/devicecode"
    assert config["issuer"] == f"{root}/v2.0"
    assert config["jwks_uri"] == f"{root}/discovery/v2.0/keys"


def test_openid_configuration_for_organizations(platform: IdentityPlatform) -> None:
    _, _, config = call(platform, "GET", "/organizations/v2.0/.well-known/openid-configuration")
    assert config["token_endpoint"] == f"{BASE}/organizations/oauth2/v2.0/token"
    assert config["issuer"] == f"{BASE}/{{tenantid}}/v2.0"


def test_jwks_publishes_the_signing_key(platform: IdentityPlatform) -> None:
    _, _, jwks = call(platform, "GET", f"/{CONTOSO_ID}/discovery/v2.0/keys")
    assert jwks["keys"][0]["kid"] == platform.tokens.kid
    assert jwks["keys"][0]["kty"] == "RSA"


def test_unverified_domain_and_unknown_tenant(platform: IdentityPlatform) -> None:
    """A domain no tenant has verified is no tenant: AADSTS90002 (InvalidTenantName,
    learn.microsoft.com/entra/identity-platform/reference-error-codes)."""
    status, _, answer = call(platform, "GET", "/contoso.net/v2.0/.well-known/openid-configuration")
    assert status == 400
    assert answer["error"] == "invalid_tenant"
    assert answer["error_codes"] == [90002]
    assert answer["error_description"].startswith("AADSTS90002: Tenant 'contoso.net' not found.")
    assert "Trace ID:" in answer["error_description"]


def test_routing_errors(platform: IdentityPlatform) -> None:
    assert call(platform, "GET", "/")[0] == 404
    assert call(platform, "GET", "/contoso.com/nothing/here")[0] == 404
    status, headers, _ = call(platform, "GET", "/contoso.com/oauth2/v2.0/token")
    assert (status, headers["Allow"]) == (405, "POST")
    assert call(platform, "GET", "/_sandbox/devicecode/approve")[0] == 405
    status, _, text = call(platform, "GET", "/contoso.com/oauth2/v2.0/authorize")
    assert status == 400 and "device code" in text
    status, _, text = call(platform, "GET", "/_sandbox/devicelogin")
    assert status == 200 and "psbridge sandbox approve CODE" in text
    status, _, _ = call(platform, "GET", "/contoso.com/v2.0/.well-known/openid-configuration",
                        headers={"Host": "evil host/x"})
    assert status == 400


# -- token endpoint errors -----------------------------------------------------------


def test_token_request_errors(platform: IdentityPlatform) -> None:
    assert token(platform, {"client_id": APP_ID})[1]["error_codes"] == [900144]
    assert token(platform, {"grant_type": "password", "client_id": APP_ID})[1]["error_codes"] == [
        70003]
    status, answer = token(platform, {"grant_type": "client_credentials", "client_id": APP_ID,
                                      "scope": EXO_DEFAULT})
    assert (status, answer["error"], answer["error_codes"]) == (401, "invalid_client", [7000218])
    answer = token(platform, {"grant_type": "refresh_token", "client_id": EXO_PS_CLIENT,
                              "refresh_token": "not-a-token", "scope": EXO_DEFAULT})[1]
    assert answer["error_codes"] == [70000]


def test_client_secret_basic(platform: IdentityPlatform) -> None:
    basic = base64.b64encode(f"{APP_ID}:{APP_SECRET}".encode()).decode()
    status, _, answer = call(platform, "POST", "/contoso.onmicrosoft.com/oauth2/v2.0/token",
                             {"grant_type": "client_credentials", "scope": EXO_DEFAULT},
                             headers={"Authorization": f"Basic {basic}"})
    assert status == 200, answer
    assert answer["expires_in"] == 3599


def test_failures_log_no_secret(platform: IdentityPlatform,
                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token(platform, {"grant_type": "client_credentials", "client_id": APP_ID,
                     "client_secret": "leaked-if-logged", "scope": EXO_DEFAULT})
    _, ok = token(platform, {"grant_type": "client_credentials", "client_id": APP_ID,
                             "client_secret": APP_SECRET, "scope": EXO_DEFAULT})
    assert "AADSTS7000215" in caplog.text
    for secret in ("leaked-if-logged", APP_SECRET, ok["access_token"]):
        assert secret not in caplog.text


def test_repr_hides_secrets(seed: dict[str, Any]) -> None:
    assert APP_SECRET not in repr(AppRegistration.from_seed(seed["apps"][0]))
    assert AGENT_PASSWORD not in repr(Account.from_seed(seed["accounts"][0]))


def test_scopes_of_two_resources_are_refused(platform: IdentityPlatform) -> None:
    status, _, answer = call(platform, "POST", "/organizations/oauth2/v2.0/devicecode", {
        "client_id": EXO_PS_CLIENT,
        "scope": "https://outlook.office365.com/.default https://graph.microsoft.com/User.Read"})
    assert status == 400
    assert answer["error_codes"] == [28000]


# -- device code life cycle ----------------------------------------------------------


def start_device_flow(platform: IdentityPlatform) -> dict[str, Any]:
    status, _, flow = call(platform, "POST", "/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
                           {"client_id": EXO_PS_CLIENT, "scope": f"{EXO_DEFAULT} openid"})
    assert status == 200, flow
    assert (flow["expires_in"], flow["interval"]) == (900, 5)
    assert len(flow["user_code"]) == 9
    return flow


def redeem(platform: IdentityPlatform, flow: dict[str, Any]) -> tuple[int, Any]:
    return token(platform, {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                            "client_id": EXO_PS_CLIENT, "device_code": flow["device_code"]})


def test_device_code_expires(platform: IdentityPlatform, clock: Clock) -> None:
    flow = start_device_flow(platform)
    clock.now += 901
    status, answer = redeem(platform, flow)
    assert (status, answer["error"], answer["error_codes"]) == (400, "expired_token", [70019])
    with pytest.raises(DeviceCodeError, match="has expired") as failure:
        platform.approve(flow["user_code"], "agent1")
    assert failure.value.status == 410


def test_approve_api(platform: IdentityPlatform) -> None:
    flow = start_device_flow(platform)
    with pytest.raises(DeviceCodeError, match="No pending sign-in has the code 'NOPE'"):
        platform.approve("nope", "agent1")
    with pytest.raises(DeviceCodeError, match="No sandbox account is named 'ghost'"):
        platform.approve(flow["user_code"], "ghost")
    assert redeem(platform, flow)[1]["error"] == "authorization_pending"
    spaced = f"{flow['user_code'][:4]}-{flow['user_code'][4:]}".lower()
    platform.approve(spaced, "Agent1")
    status, answer = redeem(platform, flow)
    assert status == 200, answer
    assert "refresh_token" not in answer  # offline_access was not requested
    assert answer["id_token"]
    claims = platform.verify_access_token(answer["access_token"],
                                          audience="https://outlook.office365.com",
                                          tenant_id=CONTOSO_ID)
    assert claims["upn"] == "agent1"


def partner_flow(platform: IdentityPlatform, tenant: str) -> dict[str, Any]:
    status, _, flow = call(platform, "POST", f"/{tenant}/oauth2/v2.0/devicecode",
                           {"client_id": EXO_PS_CLIENT, "scope": f"{EXO_DEFAULT} offline_access"})
    assert status == 200, flow
    return flow


def test_a_partner_signs_in_to_a_customer_only_with_an_accepted_relationship(
        platform: IdentityPlatform) -> None:
    """GDAP: admin1 (home: partner) reaches fabrikam, which accepted it, and gets a token
    of fabrikam; tailspin has not accepted yet and contoso has no relationship at all."""
    flow = partner_flow(platform, "fabrikam.onmicrosoft.com")
    platform.approve(flow["user_code"], "admin1")
    status, answer = redeem(platform, flow)
    assert status == 200, answer
    claims = platform.verify_access_token(answer["access_token"],
                                          audience="https://outlook.office365.com",
                                          tenant_id=FABRIKAM_ID)
    assert claims["upn"] == "admin1"
    for customer in ("tailspin.onmicrosoft.com", "contoso.onmicrosoft.com"):
        flow = partner_flow(platform, customer)
        with pytest.raises(DeviceCodeError, match=f"AADSTS50020: User account 'admin1' .* "
                           f"does not exist in tenant '{customer}'") as refused:
            platform.approve(flow["user_code"], "admin1")
        assert refused.value.status == 403
        status, answer = redeem(platform, flow)  # the polling client hears the same
        assert (status, answer["error"], answer["error_codes"]) == (400, "invalid_grant",
                                                                     [50020])


def test_a_refresh_token_reaches_a_customer_tenant_through_its_authority(
        platform: IdentityPlatform) -> None:
    """msal redeems the home sign-in's refresh token at the customer's authority."""
    flow = partner_flow(platform, "partner.onmicrosoft.com")
    platform.approve(flow["user_code"], "admin1")
    refresh = redeem(platform, flow)[1]["refresh_token"]
    form = {"grant_type": "refresh_token", "client_id": EXO_PS_CLIENT,
            "refresh_token": refresh, "scope": EXO_DEFAULT}
    status, _, answer = call(platform, "POST", "/fabrikam.onmicrosoft.com/oauth2/v2.0/token",
                             form)
    assert status == 200, answer
    platform.verify_access_token(answer["access_token"], audience="https://outlook.office365.com",
                                 tenant_id=FABRIKAM_ID)
    status, _, answer = call(platform, "POST", "/tailspin.onmicrosoft.com/oauth2/v2.0/token",
                             form)
    assert (status, answer["error_codes"]) == (400, [50020])


def test_approve_endpoint_needs_a_user_code(platform: IdentityPlatform) -> None:
    basic = base64.b64encode(f"agent1:{AGENT_PASSWORD}".encode()).decode()
    status, _, answer = platform.handle(
        "POST", "/_sandbox/devicecode/approve", "",
        {"Host": HOST, "Authorization": f"Basic {basic}", "Content-Type": "application/json"},
        b"{}")
    assert status == 400
    assert json.loads(answer)["error"] == "invalid_request"


# -- certificate assertions ----------------------------------------------------------


def assertion(cert: AppCertificate, *, signer: AppCertificate | None = None,
              **overrides: Any) -> str:
    now = time.time()
    claims = {"aud": f"https://localhost:1/{CONTOSO_ID}/oauth2/v2.0/token", "iss": APP_ID,
              "sub": APP_ID, "exp": now + 600, "iat": now, "jti": str(uuid.uuid4())}
    claims.update(overrides)
    x5t = base64.urlsafe_b64encode(bytes.fromhex(cert.thumbprint)).rstrip(b"=").decode()
    key = (signer or cert).private_key_pem
    return jwt.encode(claims, key, algorithm="RS256", headers={"x5t": x5t})


def assertion_error(platform: IdentityPlatform, value: str) -> int:
    status, answer = token(platform, {
        "grant_type": "client_credentials", "client_id": APP_ID, "scope": EXO_DEFAULT,
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": value})
    if status == 200:
        return 0
    codes: list[int] = answer["error_codes"]
    return codes[0]


def test_assertion_failures(platform: IdentityPlatform, app_cert: AppCertificate) -> None:
    assert assertion_error(platform, assertion(app_cert)) == 0
    assert assertion_error(platform, "not-a-jwt") == 50027
    other_tenant = "https://x/fabrikam.onmicrosoft.com/oauth2/v2.0/token"
    assert assertion_error(platform, assertion(app_cert, aud=other_tenant)) == 700023
    assert assertion_error(platform, assertion(app_cert, aud="https://x/somewhere")) == 700023
    assert assertion_error(platform, assertion(app_cert, iss="someone-else")) == 700021
    assert assertion_error(platform, assertion(app_cert, exp=time.time() - 1000)) == 700024
    forger = make_app_certificate("forger")
    assert assertion_error(platform, assertion(app_cert, signer=forger)) == 700027
