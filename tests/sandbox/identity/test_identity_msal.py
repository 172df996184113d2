"""The real msal client obtains tokens from the identity platform over real HTTPS."""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
import msal
import pytest
import requests
from identity_seed import (
    ADMIN_PASSWORD,
    AGENT_PASSWORD,
    APP_ID,
    APP_SECRET,
    CONTOSO_ID,
    FABRIKAM_ID,
    PARTNER_ID,
    Sandbox,
)

from toolkit.sandbox.identity import make_app_certificate

EXO = "https://outlook.office365.com"
GRAPH = "https://graph.microsoft.com"
EXO_PS_CLIENT = "fb78d390-0c51-40cd-8e17-fdbfab77341b"


def http_client(sandbox: Sandbox) -> requests.Session:
    """What psbridge must give msal: requests lets REQUESTS_CA_BUNDLE override `verify=`."""
    session = requests.Session()
    session.verify = str(sandbox.tls.ca_cert)
    session.trust_env = False
    return session


def confidential(sandbox: Sandbox, credential: Any, tenant: str = "contoso.onmicrosoft.com",
                 client_id: str = APP_ID) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"{sandbox.url}/{tenant}",
        instance_discovery=False,
        azure_region=False,
        http_client=http_client(sandbox),
    )


def public(sandbox: Sandbox, tenant: str = "organizations",
           client_id: str = EXO_PS_CLIENT) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        client_id,
        authority=f"{sandbox.url}/{tenant}",
        instance_discovery=False,
        http_client=http_client(sandbox),
    )


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def approve(sandbox: Sandbox, user_code: str, username: str, password: str,
            **body: str) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/_sandbox/devicecode/approve",
        json={"user_code": user_code, **body},
        auth=(username, password),
        verify=str(sandbox.tls.ca_cert),
        timeout=10,
    )


# -- client credentials --------------------------------------------------------------


def test_client_secret_gets_exchange_and_graph_tokens(sandbox: Sandbox) -> None:
    app = confidential(sandbox, APP_SECRET)
    exo = app.acquire_token_for_client([f"{EXO}/.default"])
    graph = app.acquire_token_for_client([f"{GRAPH}/.default"])
    assert "access_token" in exo, exo
    assert "access_token" in graph, graph
    assert exo["token_type"] == "Bearer"
    exo_claims = sandbox.platform.verify_access_token(
        exo["access_token"], audience=EXO, tenant_id=CONTOSO_ID)
    assert exo_claims["roles"] == ["Exchange.ManageAsApp"]
    assert exo_claims["appid"] == APP_ID
    assert exo_claims["appidacr"] == "1"
    assert exo_claims["idtyp"] == "app"
    assert exo_claims["iss"] == f"https://sts.windows.net/{CONTOSO_ID}/"
    assert exo_claims["exp"] - exo_claims["iat"] == 3599
    graph_claims = sandbox.platform.verify_access_token(
        graph["access_token"], audience=GRAPH, tenant_id=CONTOSO_ID)
    assert graph_claims["roles"] == ["User.ReadWrite.All"]
    assert graph_claims["aud"] == GRAPH


def test_tenant_may_be_named_by_id_or_domain(sandbox: Sandbox) -> None:
    for tenant in (CONTOSO_ID, "contoso.com", "CONTOSO.onmicrosoft.com"):
        result = confidential(sandbox, APP_SECRET, tenant).acquire_token_for_client(
            [f"{EXO}/.default"])
        assert claims_of(result["access_token"])["tid"] == CONTOSO_ID


def test_certificate_with_sha1_thumbprint(sandbox: Sandbox) -> None:
    credential = {"private_key": sandbox.app_cert.private_key_pem,
                  "thumbprint": sandbox.app_cert.thumbprint}
    result = confidential(sandbox, credential).acquire_token_for_client([f"{EXO}/.default"])
    assert "access_token" in result, result
    claims = claims_of(result["access_token"])
    assert claims["appidacr"] == "2"
    assert claims["roles"] == ["Exchange.ManageAsApp"]


def test_certificate_with_public_certificate(sandbox: Sandbox) -> None:
    credential = {"private_key": sandbox.app_cert.private_key_pem,
                  "public_certificate": sandbox.app_cert.certificate_pem}
    result = confidential(sandbox, credential, PARTNER_ID).acquire_token_for_client(
        [f"{GRAPH}/.default"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["tid"] == PARTNER_ID


def test_unregistered_certificate_is_refused(sandbox: Sandbox) -> None:
    other = make_app_certificate("not registered")
    credential = {"private_key": other.private_key_pem, "thumbprint": other.thumbprint}
    result = confidential(sandbox, credential).acquire_token_for_client([f"{EXO}/.default"])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]
    assert other.thumbprint in result["error_description"]


def test_wrong_secret_is_refused_without_echoing_it(sandbox: Sandbox) -> None:
    result = confidential(sandbox, "not-the-secret").acquire_token_for_client(
        [f"{EXO}/.default"])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret")
    assert "not-the-secret" not in str(result)
    assert result["correlation_id"]


def test_unknown_client_and_unconsented_tenant(sandbox: Sandbox) -> None:
    unknown = "11111111-2222-3333-4444-555555555555"
    result = confidential(sandbox, APP_SECRET, client_id=unknown).acquire_token_for_client(
        [f"{EXO}/.default"])
    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]
    result = confidential(sandbox, APP_SECRET, "fabrikam.onmicrosoft.com").acquire_token_for_client(
        [f"{EXO}/.default"])
    assert result["error_codes"] == [700016]
    assert "'fabrikam.onmicrosoft.com'" in result["error_description"]


def test_unknown_tenant_fails_authority_discovery(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="Unable to get authority configuration") as failure:
        confidential(sandbox, APP_SECRET, "nowhere.onmicrosoft.com")
    assert "AADSTS90002: Tenant 'nowhere.onmicrosoft.com' not found" in str(
        failure.value.__context__)


def test_client_credentials_need_a_tenant_and_a_default_scope(sandbox: Sandbox) -> None:
    with pytest.warns(DeprecationWarning):
        result = confidential(sandbox, APP_SECRET, "organizations").acquire_token_for_client(
            [f"{EXO}/.default"])
    assert result["error_codes"] == [50059]
    app = confidential(sandbox, APP_SECRET)
    assert app.acquire_token_for_client([f"{GRAPH}/User.Read.All"])["error_codes"] == [1002012]
    assert app.acquire_token_for_client(["https://example.com/.default"])["error_codes"] == [
        500011]


# -- device code ---------------------------------------------------------------------


def test_device_flow_approved_through_http_endpoint(sandbox: Sandbox) -> None:
    app = public(sandbox)
    flow = app.initiate_device_flow(scopes=[f"{EXO}/.default"])
    assert flow["interval"] == 1
    assert flow["user_code"] in flow["message"]
    assert flow["verification_uri"].startswith(sandbox.url)

    def approve_later() -> None:
        time.sleep(1.2)
        answer = approve(sandbox, flow["user_code"].lower(), "agent1", AGENT_PASSWORD)
        assert answer.status_code == 200, answer.text

    approver = threading.Thread(target=approve_later)
    approver.start()
    result = app.acquire_token_by_device_flow(flow)
    approver.join()
    assert "access_token" in result, result
    claims = sandbox.platform.verify_access_token(
        result["access_token"], audience=EXO, tenant_id=CONTOSO_ID)
    assert claims["upn"] == "agent1"
    assert claims["scp"] == "Exchange.Manage"
    assert claims["appid"] == EXO_PS_CLIENT
    assert claims["idtyp"] == "user"
    assert result["id_token_claims"]["preferred_username"] == "agent1"
    assert "refresh_token" in result

    # the refresh token serves the other resource too, silently
    account = app.get_accounts(username="agent1")[0]
    graph = app.acquire_token_silent([f"{GRAPH}/User.ReadWrite.All"], account=account)
    assert graph is not None and "access_token" in graph, graph
    graph_claims = claims_of(graph["access_token"])
    assert graph_claims["aud"] == GRAPH
    assert graph_claims["scp"] == "User.ReadWrite.All"


def test_device_flow_in_a_named_tenant_and_home_tenant(sandbox: Sandbox) -> None:
    for tenant, username, password, expected in (
        ("fabrikam.onmicrosoft.com", "agent1", AGENT_PASSWORD, FABRIKAM_ID),
        ("organizations", "admin1", ADMIN_PASSWORD, PARTNER_ID),
    ):
        app = public(sandbox, tenant)
        flow = app.initiate_device_flow(scopes=[f"{GRAPH}/.default"])
        assert approve(sandbox, flow["user_code"], username, password).status_code == 200
        result = app.acquire_token_by_device_flow(flow)
        assert claims_of(result["access_token"])["tid"] == expected
        assert claims_of(result["access_token"])["upn"] == username


def test_pending_device_code_and_single_use(sandbox: Sandbox) -> None:
    app = public(sandbox)
    flow = app.initiate_device_flow(scopes=[f"{EXO}/.default"])
    pending = app.acquire_token_by_device_flow(flow, exit_condition=lambda flow: True)
    assert pending["error"] == "authorization_pending"
    assert pending["error_codes"] == [70016]
    sandbox.platform.approve(flow["user_code"], "agent1")
    flow["latest_attempt_at"] = 0
    assert "access_token" in app.acquire_token_by_device_flow(flow)
    flow["latest_attempt_at"] = 0
    again = app.acquire_token_by_device_flow(flow, exit_condition=lambda flow: True)
    assert again["error"] == "invalid_grant"


def test_approve_endpoint_refusals(sandbox: Sandbox) -> None:
    app = public(sandbox)
    flow = app.initiate_device_flow(scopes=[f"{EXO}/.default"])
    code = flow["user_code"]
    wrong_password = approve(sandbox, code, "agent1", "nope")
    assert wrong_password.status_code == 401
    assert wrong_password.headers["WWW-Authenticate"].startswith("Basic")
    assert approve(sandbox, code, "agent1", AGENT_PASSWORD, account="admin1").status_code == 403
    assert approve(sandbox, "ZZZZZZZZZ", "agent1", AGENT_PASSWORD).status_code == 404
    form = requests.post(f"{sandbox.url}/_sandbox/devicecode/approve",
                         data={"user_code": code, "account": "agent1"},
                         auth=("agent1", AGENT_PASSWORD),
                         verify=str(sandbox.tls.ca_cert), timeout=10)
    assert form.status_code == 200
    assert form.json() == {"status": "approved", "user_code": code, "account": "agent1"}
    assert approve(sandbox, code, "agent1", AGENT_PASSWORD).status_code == 409


def test_device_flow_with_unconsented_seeded_app(sandbox: Sandbox) -> None:
    app = public(sandbox, "fabrikam.onmicrosoft.com", client_id=APP_ID)
    flow = app.initiate_device_flow(scopes=[f"{EXO}/.default"])
    assert flow["error"] == "unauthorized_client"
    assert flow["error_codes"] == [700016]
