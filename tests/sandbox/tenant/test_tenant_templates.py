"""Contract with psbridge's own templates: the shipped connect blocks and tasks run here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tenant_helpers import ok

from toolkit.core.templates import TemplateCatalog
from toolkit.sandbox.app import identity_platform
from toolkit.sandbox.identity import EXCHANGE_ONLINE, MICROSOFT_GRAPH
from toolkit.sandbox.interface import SessionContext
from toolkit.sandbox.pwsh.engine import Engine, run_script
from toolkit.sandbox.tenant.cmdlet_support import TenantServices
from toolkit.sandbox.tenant.demo import CONTOSO_ID, FABRIKAM_ID
from toolkit.sandbox.tenant.store import TenantStore


def _user_token(identity: object, resource: object, tenant_id: str = CONTOSO_ID) -> str:
    token: str = identity.tokens.issue_user_token(  # type: ignore[attr-defined]
        tenant_id=tenant_id, resource=resource,
        client_id="fb78d390-0c51-40cd-8e17-fdbfab77341b",
        app_display_name="psbridge", username="admin", scopes=["Exchange.Manage"])
    return token


def test_guarded_connect_block_and_list_mailboxes(engine: Engine, services: TenantServices,
                                                  store: TenantStore, tmp_path: Path) -> None:
    """A partner's token issued by the customer's tenant, -Organization the customer: the
    connection acts on the customer, and the reached-tenant report says so."""
    services.identity = identity_platform(store.world, tmp_path)
    catalog = TemplateCatalog(include_builtin=True)
    connect = catalog.render("_connect/connect-exchange").script
    listing = catalog.render("exchange/list-mailboxes").script
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    token = _user_token(services.identity, EXCHANGE_ONLINE, FABRIKAM_ID)
    for _ in range(2):  # the second run finds the connection and keeps it
        ok(run_script(runspace, connect, {"AccessToken": token,
                                          "Organization": "fabrikam.onmicrosoft.com"}))
    assert services.limiter.count("admin") == 1
    rows = ok(run_script(runspace, listing, {"RecipientTypeDetails": "SharedMailbox"}))
    assert [r["PrimarySmtpAddress"] for r in rows] == ["office@fabrikam.com"]
    (reached,) = ok(run_script(runspace,
                               catalog.render("_connect/reached-tenant-exchange").script))
    assert (reached["TenantId"], reached["Organization"]) == (
        FABRIKAM_ID, "fabrikam.onmicrosoft.com")
    home = _user_token(services.identity, EXCHANGE_ONLINE)  # the partner's own tenant
    refused = run_script(runspace, connect, {"AccessToken": home,
                                             "Organization": "fabrikam.onmicrosoft.com",
                                             "Renew": True})
    record = refused.failed or refused.errors[0]
    assert "was issued for tenant" in record.message


def _objects(result: Any) -> list[dict[str, Any]]:
    """A run's output objects as dicts of their properties, in order."""
    return [dict(o.properties.items()) for o in ok(result)]


def test_graph_connect_block(engine: Engine, services: TenantServices,
                             store: TenantStore, tmp_path: Path) -> None:
    """The Graph connect block, then its reached-tenant report: ``Get-MgContext``.

    Get-MgContext's shape is Microsoft Learn's reference page,
    https://learn.microsoft.com/powershell/module/microsoft.graph.authentication/get-mgcontext
    (no parameters; its example lists ClientId, TenantId, CertificateThumbprint, Scopes,
    AuthType, AuthProviderType, CertificateName, Account, AppName, ContextScope,
    Certificate, PSHostVersion, ClientTimeout; output IAuthContext). Where the page is
    silent the sandbox assumes: no output before Connect-MgGraph; with -AccessToken,
    TenantId is the token's tenant, AuthType ``UserProvidedAccessToken``, AuthProviderType
    ``UserProvidedToken``, ContextScope ``Process`` and no Account.
    """
    services.identity = identity_platform(store.world, tmp_path)
    catalog = TemplateCatalog(include_builtin=True)
    runspace = engine.open_runspace(SessionContext("admin", "admin"))
    report = catalog.render("_connect/reached-tenant-graph").script
    assert ok(run_script(runspace, "Get-MgContext")) == []
    assert _objects(run_script(runspace, report)) == [{"Service": "graph", "TenantId": ""}]
    token = _user_token(services.identity, MICROSOFT_GRAPH, FABRIKAM_ID)
    ok(run_script(runspace, catalog.render("_connect/connect-graph").script, {"AccessToken": token}))
    assert ok(run_script(runspace, "(Get-MgUser -UserId office@fabrikam.com).DisplayName")
              ) == ["Office"]
    (context,) = _objects(run_script(runspace, "Get-MgContext"))
    assert list(context) == ["ClientId", "TenantId", "CertificateThumbprint", "Scopes",
                             "AuthType", "AuthProviderType", "CertificateName", "Account",
                             "AppName", "ContextScope", "Certificate", "PSHostVersion",
                             "ClientTimeout"]
    assert (context["TenantId"], context["AuthType"], context["Account"]) == (
        FABRIKAM_ID, "UserProvidedAccessToken", None)
    assert _objects(run_script(runspace, report)) == [
        {"Service": "graph", "TenantId": FABRIKAM_ID}]
    # Interactive sign-in (no token): the account's own tenant, as the page's example shows.
    ok(run_script(runspace, "Connect-MgGraph -NoWelcome"))
    (context,) = _objects(run_script(runspace, "Get-MgContext"))
    assert (context["TenantId"], context["AuthType"], context["AuthProviderType"],
            context["Account"], context["ContextScope"]) == (
        CONTOSO_ID, "Delegated", "InteractiveAuthenticationProvider", "admin", "CurrentUser")
