"""Connecting: not-connected errors, the 3-connection limit, partners, tokens, app-only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tenant_helpers import ok

from toolkit.sandbox.app import identity_platform
from toolkit.sandbox.identity import EXCHANGE_ONLINE, MICROSOFT_GRAPH, make_app_certificate
from toolkit.sandbox.interface import SessionContext
from toolkit.sandbox.pwsh.engine import Engine, run_script
from toolkit.sandbox.tenant.cmdlet_support import TenantServices
from toolkit.sandbox.tenant.demo import (
    CONTOSO_ID,
    DEMO_APP_ID,
    DEMO_APP_SECRET,
    FABRIKAM_ID,
)
from toolkit.sandbox.tenant.registration import tenant_registry
from toolkit.sandbox.tenant.store import TenantStore


def test_service_cmdlets_before_connecting(engine: Engine) -> None:
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    exchange = run_script(runspace, "Get-Mailbox sales")
    record = exchange.failed or exchange.errors[0]
    assert record.exception_type == "System.Management.Automation.CommandNotFoundException"
    graph = run_script(runspace, "Get-MgUser -UserId adele.vance@contoso.com")
    assert graph.errors[0].message == "Authentication needed. Please call Connect-MgGraph."
    retired = run_script(runspace, "Connect-MsolService")  # MSOnline: retired in 2025
    assert "CommandNotFoundException" in (retired.failed or retired.errors[0]
                                          ).fully_qualified_error_id


def test_guarded_connect_and_connection_information(engine: Engine) -> None:
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    guarded = ("if (-not (Get-ConnectionInformation)) { Connect-ExchangeOnline "
               "-ShowBanner:$false }; (Get-ConnectionInformation).Organization")
    assert ok(run_script(runspace, guarded)) == ["contoso.onmicrosoft.com"]
    assert ok(run_script(runspace, guarded)) == ["contoso.onmicrosoft.com"]
    banner = run_script(runspace, "Connect-ExchangeOnline")
    assert "V3 EXO PowerShell module" in banner.information[0]
    ok(run_script(runspace, "Disconnect-ExchangeOnline -Confirm:$false"))
    assert ok(run_script(runspace, "Get-ConnectionInformation")) == []


def test_at_most_three_exchange_connections_per_account(engine: Engine,
                                                        services: TenantServices) -> None:
    runspaces = [engine.open_runspace(SessionContext("admin", "admin")) for _ in range(4)]
    for runspace in runspaces[:3]:
        ok(run_script(runspace, "Connect-ExchangeOnline -ShowBanner:$false"))
    fourth = run_script(runspaces[3], "Connect-ExchangeOnline -ShowBanner:$false")
    record = fourth.failed or fourth.errors[0]
    assert "exceeded the maximum number of connections allowed : 3" in record.message
    ok(run_script(runspaces[0], "Disconnect-ExchangeOnline -Confirm:$false"))
    ok(run_script(runspaces[3], "Connect-ExchangeOnline -ShowBanner:$false"))
    helpdesk = engine.open_runspace(SessionContext("helpdesk", "helpdesk"))
    ok(run_script(helpdesk, "Connect-ExchangeOnline -ShowBanner:$false"))  # its own budget
    services.release(runspaces[1].state)  # what closing the runspace does
    assert services.limiter.count("admin") == 2


def test_partner_reaches_customers_that_accepted(engine: Engine) -> None:
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    ok(run_script(runspace, "Connect-ExchangeOnline -DelegatedOrganization "
                            "fabrikam.onmicrosoft.com -ShowBanner:$false"))
    names = ok(run_script(runspace, "Get-Mailbox -RecipientTypeDetails SharedMailbox | "
                                    "ForEach-Object { $_.PrimarySmtpAddress }"))
    assert names == ["office@fabrikam.com"]
    pending = run_script(runspace, "Connect-ExchangeOnline -DelegatedOrganization "
                                   "tailspintoys.onmicrosoft.com -ShowBanner:$false")
    assert "accept the partner relationship" in pending.errors[0].message
    ok(run_script(runspace, f"Connect-MgGraph -TenantId {FABRIKAM_ID} -NoWelcome"))
    assert ok(run_script(runspace, "(Get-MgDomain -DomainId fabrikam.com).IsVerified")) == [True]


def test_a_partners_role_in_the_customer_limits_its_cmdlets(engine: Engine,
                                                             store: TenantStore) -> None:
    """A GDAP relationship with a helpdesk role reads, but cannot change, the customer."""
    fabrikam = store.world.tenants["fabrikam.onmicrosoft.com"]
    for partner in fabrikam.partners:
        partner.role = "helpdesk" if partner.account == "admin" else partner.role
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    ok(run_script(runspace, "Connect-ExchangeOnline -DelegatedOrganization "
                            "fabrikam.onmicrosoft.com -ShowBanner:$false"))
    assert ok(run_script(runspace, "(Get-Mailbox office).Name")) == ["Office"]
    denied = run_script(runspace, "Add-MailboxPermission office -User ana.bowman@fabrikam.com "
                                  "-AccessRights FullAccess")
    assert "is not recognized" in (denied.failed or denied.errors[0]).message
    ok(run_script(runspace, "Connect-ExchangeOnline -ShowBanner:$false"))  # home: admin
    ok(run_script(runspace, "Add-MailboxPermission info -User debra.berger@contoso.com "
                            "-AccessRights FullAccess"))


def test_credential_connect(engine: Engine) -> None:
    runspace = engine.open_runspace(SessionContext("someone", "admin"))
    good = ("$c = New-Object System.Management.Automation.PSCredential('helpdesk', "
            "(ConvertTo-SecureString 'Sandbox-Helpdesk-1!' -AsPlainText -Force)); "
            "Connect-ExchangeOnline -Credential $c -ShowBanner:$false; "
            "(Get-ConnectionInformation).UserPrincipalName")
    assert ok(run_script(runspace, good)) == ["helpdesk"]
    bad = good.replace("Sandbox-Helpdesk-1!", "wrong")
    assert "AADSTS50126" in run_script(runspace, bad).errors[0].message


@pytest.fixture
def identity(services: TenantServices, store: TenantStore, tmp_path: Path) -> object:
    certificate = make_app_certificate()
    store.world.apps[0].certificate_pem = certificate.certificate_pem
    services.identity = identity_platform(store.world, tmp_path)
    services.identity.thumbprint = certificate.thumbprint
    return services.identity


def _app_token(identity: object, tenant_id: str, resource: object,
               roles: list[str] | None = None) -> str:
    token: str = identity.tokens.issue_app_token(  # type: ignore[attr-defined]
        tenant_id=tenant_id, resource=resource, client_id=DEMO_APP_ID,
        app_display_name="psbridge automation",
        roles=roles if roles is not None else ["Exchange.ManageAsApp"], client_auth="1")
    return token


def test_access_tokens(engine: Engine, identity: object, store: TenantStore,
                       tmp_path: Path) -> None:
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    connect = ("param($t, $o) Connect-ExchangeOnline -AccessToken $t -Organization $o "
               "-ShowBanner:$false")
    good = _app_token(identity, CONTOSO_ID, EXCHANGE_ONLINE)
    ok(run_script(runspace, connect, {"t": good, "o": "contoso.onmicrosoft.com"}))
    assert ok(run_script(runspace, "(Get-Mailbox sales).Name")) == ["Sales"]
    wrong_tenant = run_script(runspace, connect, {"t": good, "o": "fabrikam.onmicrosoft.com"})
    assert "was issued for tenant" in wrong_tenant.errors[0].message
    graph_token = _app_token(identity, CONTOSO_ID, MICROSOFT_GRAPH, ["User.ReadWrite.All"])
    wrong_audience = run_script(runspace, connect,
                                {"t": graph_token, "o": "contoso.onmicrosoft.com"})
    assert "Invalid audience" in wrong_audience.errors[0].message
    past = identity_platform(store.world, tmp_path)  # same signing key, two hours back
    past.tokens._clock = lambda: time.time() - 7200
    expired = _app_token(past, CONTOSO_ID, EXCHANGE_ONLINE)
    result = run_script(runspace, connect, {"t": expired, "o": "contoso.onmicrosoft.com"})
    assert "token is expired" in result.errors[0].message
    # A token is for one cloud: the global one is refused by GCC High's endpoint.
    gcc_high = run_script(runspace, "param($t) Connect-ExchangeOnline -AccessToken $t "
                          "-Organization contoso.onmicrosoft.com -ExchangeEnvironmentName "
                          "O365USGovGCCHigh -ShowBanner:$false", {"t": good})
    assert "Invalid audience" in gcc_high.errors[0].message
    # A home token with -DelegatedOrganization lands in the token's tenant, whatever
    # Get-ConnectionInformation says (office-docs-powershell issue 10378).
    ok(run_script(runspace, "param($t) Connect-ExchangeOnline -AccessToken $t -Organization "
                  "contoso.onmicrosoft.com -DelegatedOrganization fabrikam.onmicrosoft.com "
                  "-ShowBanner:$false", {"t": good}))
    assert ok(run_script(runspace, "(Get-ConnectionInformation).DelegatedOrganization")) == [
        "fabrikam.onmicrosoft.com"]
    assert ok(run_script(runspace, "(Get-OrganizationConfig).Name")) == [
        "contoso.onmicrosoft.com"]
    assert ok(run_script(runspace, "(Get-Mailbox sales).Name")) == ["Sales"]
    from toolkit.sandbox.values import SecureString
    ok(run_script(runspace, "param($t) Connect-MgGraph -AccessToken $t -NoWelcome",
                  {"t": SecureString(graph_token)}))
    assert ok(run_script(runspace, "(Get-MgUser -UserId sales@contoso.com).DisplayName")) == [
        "Sales"]


def test_app_only_certificate_and_secret(engine: Engine, identity: object) -> None:
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    thumbprint = identity.thumbprint  # type: ignore[attr-defined]
    ok(run_script(runspace, "param($a, $t) Connect-ExchangeOnline -AppId $a "
                            "-CertificateThumbprint $t -Organization contoso.onmicrosoft.com "
                            "-ShowBanner:$false", {"a": DEMO_APP_ID, "t": thumbprint}))
    (info,) = ok(run_script(runspace, "Get-ConnectionInformation"))
    assert info["CertificateAuthentication"] is True and info["AppId"] == DEMO_APP_ID
    wrong = run_script(runspace, "param($a) Connect-ExchangeOnline -AppId $a "
                                 "-CertificateThumbprint ABCDEF -Organization "
                                 "contoso.onmicrosoft.com", {"a": DEMO_APP_ID})
    assert "AADSTS700027" in wrong.errors[0].message
    not_consented = run_script(runspace, "param($a, $t) Connect-ExchangeOnline -AppId $a "
                                         "-CertificateThumbprint $t -Organization "
                                         "tailspintoys.onmicrosoft.com",
                               {"a": DEMO_APP_ID, "t": thumbprint})
    assert "AADSTS700016" in not_consented.errors[0].message
    secret = ("param($a, $s) $c = New-Object System.Management.Automation.PSCredential($a, "
              "(ConvertTo-SecureString $s -AsPlainText -Force)); "
              f"Connect-MgGraph -TenantId {CONTOSO_ID} "
              "-ClientSecretCredential $c -NoWelcome")
    ok(run_script(runspace, secret, {"a": DEMO_APP_ID, "s": DEMO_APP_SECRET}))
    ok(run_script(runspace, f"param($a, $t) Connect-MgGraph -ClientId $a -TenantId {CONTOSO_ID} "
                            "-CertificateThumbprint $t -NoWelcome",
                  {"a": DEMO_APP_ID, "t": thumbprint}))
    assert "AADSTS7000215" in run_script(runspace, secret, {"a": DEMO_APP_ID, "s": "nope"}
                                         ).errors[0].message


def test_connect_options_the_sandbox_cannot_honour(engine: Engine) -> None:
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    prefixed = run_script(runspace, "Connect-ExchangeOnline -Prefix Contoso")
    assert "doesn't emulate Connect-ExchangeOnline -Prefix" in prefixed.errors[0].message
    managed = run_script(runspace, "Connect-MgGraph -Identity")
    assert "doesn't emulate Connect-MgGraph -Identity" in managed.errors[0].message


def test_tokens_need_the_identity_platform(engine: Engine) -> None:
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    result = run_script(runspace, "Connect-ExchangeOnline -AccessToken x.y.z -Organization "
                                  "contoso.onmicrosoft.com")
    assert "--https" in result.errors[0].message


def test_registry_builds_for_every_tenant_cmdlet(services: TenantServices) -> None:
    # MSOnline's 11 are retired; Get-MgContext's metadata is the supplement's
    assert len(tenant_registry(services).names()) == 51


def test_three_exchange_connections_per_principal_in_each_tenant() -> None:
    """Evidence: Exchange Online's throttling policy allows a user PowerShellMaxConcurrency
    = 3 sessions (and PowerShellMaxTenantConcurrency per tenant); the policy is the tenant's,
    so a partner admin or a multi-tenant app has 3 in each tenant it acts on.
    https://blog.quadrotech-it.com/blog/office-365-exchange-online-powershell-throttling/
    (the per-tenant reading for multi-tenant apps is our assumption: an app has one
    service principal per tenant)."""
    from toolkit.sandbox.tenant.cmdlet_support import ConnectionLimiter
    from toolkit.sandbox.tenant.errors import TenantError

    limiter = ConnectionLimiter()
    for n in range(3):
        limiter.acquire("app", f"a{n}", "contoso")
        limiter.acquire("app", f"f{n}", "fabrikam")
    with pytest.raises(TenantError, match="MaxConcurrency"):
        limiter.acquire("app", "a3", "contoso")
    limiter.release("app", "a0")
    limiter.acquire("app", "a3", "contoso")
    assert limiter.count("app") == 6
