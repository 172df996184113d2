"""Connect-ExchangeOnline, Get-ConnectionInformation, Disconnect-ExchangeOnline,
Connect-MgGraph, Get-MgContext.

How a connect call signs in, most specific first:

- ``-AccessToken``: a JWT from the sandbox's identity platform, verified for the service's
  audience and the tenant (expired, wrong-audience and wrong-tenant tokens fail); needs
  the identity platform, which runs with ``--https``;
- ``-AppId``/``-ClientId`` with a certificate (``-CertificateThumbprint``, ``-Certificate``
  or ``-CertificateFilePath``) or, for Graph, ``-ClientSecretCredential``: the seeded app
  registration must exist, be consented in the tenant and hold that credential;
- ``-Credential``: a sandbox account's user name and password;
- nothing: the sandbox account that opened the remote session, as if the module's
  interactive sign-in had completed for it (a sandbox simplification: a remote session
  has no browser).

``-DelegatedOrganization`` (Exchange), ``-TenantId`` (Graph) reach a customer tenant; the
customer must have accepted the account's partner relationship. With ``-AccessToken``,
``-DelegatedOrganization`` is shown by Get-ConnectionInformation but the cmdlets act on
the token's own tenant, as the real module does (MicrosoftDocs/office-docs-powershell
issue 10378): a partner reaches a customer with a token issued by the customer's tenant.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.tenant import errors
from toolkit.sandbox.tenant.cmdlet_support import (
    EXCHANGE,
    GRAPH,
    Call,
    Connection,
    TenantServices,
    account_of,
    home_tenant,
    register,
)
from toolkit.sandbox.tenant.model import Account, AppRegistration, Tenant, World
from toolkit.sandbox.values import PSObject, SecureString

EXCHANGE_AUDIENCE = "https://outlook.office365.com"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
# Each cloud's endpoint, by -ExchangeEnvironmentName / -Environment: an access token is
# accepted only by the cloud it was issued for (learn.microsoft.com/graph/deployments,
# app-only-auth-powershell-v2 for the Exchange environment names).
EXCHANGE_AUDIENCES = {
    "o365default": EXCHANGE_AUDIENCE,
    "o365usgovgcchigh": "https://outlook.office365.us",
    "o365usgovdod": "https://webmail.apps.mil",
    "o365china": "https://partner.outlook.cn",
}
GRAPH_AUDIENCES = {
    "global": GRAPH_AUDIENCE,
    "usgov": "https://graph.microsoft.us",
    "usgovdod": "https://dod-graph.microsoft.us",
    "china": "https://microsoftgraph.chinacloudapi.cn",
}
EXO_PUBLIC_CLIENT = "fb78d390-0c51-40cd-8e17-fdbfab77341b"
GRAPH_PUBLIC_CLIENT = "14d82eec-204b-4c2f-b7e8-296a70dab67e"

EXO_BANNER = (
    "----------------------------------------------------------------------------------------\n"
    "This V3 EXO PowerShell module contains new REST API backed Exchange Online cmdlets which "
    "doesn't require WinRM for Client-Server communication. You can now run these cmdlets "
    "after turning off WinRM Basic Auth in your client machine thus making it more secure.\n\n"
    "Unlike the EXO* prefixed cmdlets, the cmdlets in this module support full functional "
    "parity with the RPS (V1) cmdlets.\n\n"
    "V3 cmdlets in the downloaded module are resilient to transient failures, handling "
    "retries and throttling errors inherently.\n\n"
    "For more information check https://aka.ms/exov3-module\n"
    "----------------------------------------------------------------------------------------"
)
GRAPH_WELCOME = (
    "Welcome to Microsoft Graph!\n\n"
    "Connected via {how} access using {client_id}\n"
    "Readme: https://aka.ms/graph/sdk/powershell\n"
    "SDK Docs: https://aka.ms/graph/sdk/powershell/docs\n"
    "API Docs: https://aka.ms/graph/docs\n\n"
    "NOTE: You can use the -NoWelcome parameter to suppress this message."
)


def register_connect(registry: CmdletRegistry, services: TenantServices) -> None:
    for name, impl in (
        ("Connect-ExchangeOnline", connect_exchange),
        ("Get-ConnectionInformation", get_connection_information),
        ("Disconnect-ExchangeOnline", disconnect_exchange),
        ("Connect-MgGraph", connect_graph),
        ("Get-MgContext", get_mg_context),
    ):
        # Get-ConnectionInformation and Get-MgContext read the module's session in this
        # PowerShell instance (Learn: "information about all REST-based connections in the
        # current PowerShell instance"; "details about the current session"): no service.
        register(registry, services, name, impl, service=None, writes=False, helpdesk=True,
                 local=name in ("Get-ConnectionInformation", "Get-MgContext"))


# ---------------------------------------------------------------------- shared


def _tenant_named(world: World, name: str) -> Tenant:
    folded = name.strip().casefold()
    for tenant in world.tenants.values():
        if tenant.id == folded or tenant.name == folded or tenant.domain(folded) is not None:
            return tenant
    raise errors.exchange_auth(
        f"UnAuthorized: the organization '{name}' doesn't exist in the sandbox.")


def may_manage(account: Account, tenant: Tenant, world: World) -> bool:
    """Home tenant, or a customer that accepted the account's partner relationship."""
    if not account.tenants:
        return True
    if tenant.name == home_tenant(world, account).name:
        return True
    return account.username.casefold() in {p.casefold() for p in tenant.active_partners()}


def partner_role(account: Account, tenant: Tenant, world: World) -> str | None:
    """The role a partner's accepted relationship grants in a customer tenant (None at
    home, and for accounts that are not its partners)."""
    if tenant.name == home_tenant(world, account).name:
        return None
    folded = account.username.casefold()
    return next((p.role for p in tenant.partners
                 if p.accepted and p.account.casefold() == folded), None)


def _partner_error(account: Account, tenant: Tenant) -> errors.TenantError:
    return errors.exchange_auth(
        f"UnAuthorized: '{account.username}' has no accepted delegated admin relationship "
        f"with '{tenant.name}'. The customer must accept the partner relationship first."
    )


def _credential_account(world: World, credential: Any) -> Account:
    if not isinstance(credential, PSObject) or "UserName" not in credential.properties:
        raise errors.invalid_argument("-Credential takes a PSCredential.")
    username = str(credential["UserName"])
    password = credential.get("Password")
    secret = password.reveal() if isinstance(password, SecureString) else str(password)
    account = next((a for a in world.accounts if a.username.casefold() == username.casefold()),
                   None)
    if account is None or account.password != secret:
        raise errors.exchange_auth(
            "AADSTS50126: Error validating credentials due to invalid username or password.")
    return account


def _verify(call: Call, token: str, audience: str, tenant: Tenant) -> dict[str, Any]:
    identity = call.services.identity
    if identity is None:
        raise errors.exchange_auth(
            "UnAuthorized: this sandbox runs without --https, so it has no identity platform "
            "to verify access tokens. Start it with --https, or connect with -Credential.")
    from toolkit.sandbox.identity import TokenError

    try:
        claims: dict[str, Any] = identity.verify_access_token(token, audience=audience,
                                                              tenant_id=tenant.id)
    except TokenError as error:
        raise (errors.graph_auth(str(error)) if audience in GRAPH_AUDIENCES.values()
               else errors.exchange_auth(f"UnAuthorized: {error}")) from None
    return claims


def _token_tenant(world: World, token: str) -> Tenant:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise errors.graph_auth("CompactToken parsing failed with error code: 80049217") from None
    return _tenant_named(world, str(claims.get("tid", "")))


def _app(world: World, client_id: str, tenant: Tenant) -> AppRegistration:
    app = next((a for a in world.apps if a.client_id == client_id.strip().casefold()), None)
    if app is None:
        raise errors.exchange_auth(
            f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
            f"directory '{tenant.name}'.")
    if tenant.name not in app.tenants and tenant.id not in app.tenants:
        raise errors.exchange_auth(
            f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
            f"directory '{tenant.name}'. The app has not been consented in this tenant.")
    return app


def _thumbprint(call: Call) -> str | None:
    if call.has("CertificateThumbprint"):
        return str(call.params["CertificateThumbprint"]).replace(" ", "").upper()
    certificate = call.params.get("Certificate")
    if isinstance(certificate, PSObject) and certificate.get("Thumbprint"):
        return str(certificate["Thumbprint"]).upper()
    if isinstance(certificate, str):
        return certificate.upper()
    if call.has("CertificateFilePath"):
        return _file_thumbprint(Path(str(call.params["CertificateFilePath"])),
                                call.params.get("CertificatePassword"))
    return None


def _file_thumbprint(path: Path, password: Any) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise errors.invalid_argument(
            f"Cannot read the certificate file '{path}': {error.strerror}") from None
    try:
        if path.suffix.casefold() in (".pfx", ".p12"):
            secret = password.reveal().encode() if isinstance(password, SecureString) else None
            certificate = pkcs12.load_key_and_certificates(data, secret)[1]
        else:
            certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise errors.invalid_argument(
            f"The certificate file '{path}' can't be read (wrong password or format).") from None
    if certificate is None:
        raise errors.invalid_argument(f"The file '{path}' holds no certificate.")
    return certificate.fingerprint(hashes.SHA1()).hex().upper()


def _check_certificate(app: AppRegistration, thumbprint: str) -> None:
    from toolkit.sandbox.identity import certificate_thumbprint

    registered = certificate_thumbprint(app.certificate_pem) if app.certificate_pem else None
    if registered != thumbprint:
        raise errors.exchange_auth(
            f"AADSTS700027: The certificate with identifier used to sign the client assertion "
            f"is not registered on application. [Reason - The key was not found., Thumbprint "
            f"of key used by client: '{thumbprint}']")


# ---------------------------------------------------------------------- Exchange


EXO_CONNECT_PARAMETERS = (
    "AccessToken", "AppId", "Certificate", "CertificateFilePath", "CertificatePassword",
    "CertificateThumbprint", "Organization", "DelegatedOrganization", "Credential",
    "UserPrincipalName", "ShowBanner", "ShowProgress", "PageSize", "CommandName",
    "FormatTypeName", "SkipLoadingFormatData", "SkipLoadingCmdletHelp", "LoadCmdletHelp",
    "DisableWAM", "EnableErrorReporting", "LogDirectoryPath", "LogLevel", "TrackPerformance",
    "UseMultithreading", "ExchangeEnvironmentName",
)
GRAPH_CONNECT_PARAMETERS = (
    "AccessToken", "ClientId", "TenantId", "CertificateThumbprint", "Certificate",
    "CertificateSubjectName", "ClientSecretCredential", "Scopes", "NoWelcome", "ContextScope",
    "ClientTimeout", "SendCertificateChain", "Environment",
)


def connect_exchange(call: Call) -> list[Any]:
    # -Prefix, managed identity, RPS sessions and custom endpoints change what a real
    # connection is; the sandbox refuses them rather than pretend.
    call.reject_unsupported(EXO_CONNECT_PARAMETERS)
    environment = call.text("ExchangeEnvironmentName") or "O365Default"
    audience = EXCHANGE_AUDIENCES.get(environment.casefold())
    if audience is None:
        raise errors.invalid_argument(
            f"Cannot validate argument on parameter 'ExchangeEnvironmentName'. The sandbox "
            f"knows {', '.join(EXCHANGE_AUDIENCES)}, not {environment}.")
    if audience != EXCHANGE_AUDIENCE and not call.has("AccessToken"):
        raise errors.invalid_argument(
            f"The sandbox signs in to {environment} with -AccessToken only.")
    world, session = call.world, call.ctx.session
    account = account_of(world, session)
    organization = call.text("Organization")
    delegated = call.text("DelegatedOrganization")
    token = call.text("AccessToken")
    app_id = call.text("AppId")
    expiry: float | None = None
    app: AppRegistration | None = None
    if token:
        if not organization:
            raise errors.invalid_argument(
                "Organization parameter is mandatory when AccessToken is used.")
        signed_in = _tenant_named(world, organization)
        claims = _verify(call, token, audience, signed_in)
        app_only = claims.get("idtyp") == "app"
        if app_only and "Exchange.ManageAsApp" not in claims.get("roles", []):
            raise errors.exchange_auth(
                "UnAuthorized: the app has no Exchange.ManageAsApp permission in this tenant.")
        if app_only:
            app = next((a for a in world.apps if a.client_id == str(claims.get("appid"))), None)
        else:
            account = _named_account(world, str(claims.get("upn")))
        connection = Connection(EXCHANGE, signed_in.name,
                                str(claims.get("appid") if app_only else claims.get("upn")),
                                "AppOnly" if app_only else "UserProvidedAccessToken",
                                app_id=str(claims.get("appid")))
        if not app_only:
            connection.partner_role = partner_role(account, signed_in, world)
        expiry = float(claims["exp"])
    elif app_id:
        if not organization:
            raise errors.invalid_argument(
                "Organization parameter is mandatory when AppId is used.")
        signed_in = _tenant_named(world, organization)
        app = _app(world, app_id, signed_in)
        thumbprint = _thumbprint(call)
        if thumbprint is None:
            raise errors.invalid_argument(
                "Connect-ExchangeOnline -AppId needs -CertificateThumbprint, -Certificate or "
                "-CertificateFilePath.")
        _check_certificate(app, thumbprint)
        if "Exchange.ManageAsApp" not in app.roles:
            raise errors.exchange_auth(
                "UnAuthorized: the app has no Exchange.ManageAsApp permission in this tenant.")
        connection = Connection(EXCHANGE, signed_in.name, app.client_id, "AppOnly",
                                app_id=app.client_id, certificate_thumbprint=thumbprint)
    else:
        if call.has("Credential"):
            account = _credential_account(world, call.params["Credential"])
        signed_in = home_tenant(world, account)
        connection = Connection(EXCHANGE, signed_in.name, account.username, "Delegated",
                                app_id=EXO_PUBLIC_CLIENT)
    if delegated and token:
        _tenant_named(world, delegated)  # an unknown organization is still refused
        connection.delegated_as = delegated
    elif delegated:
        target = _tenant_named(world, delegated)
        if target.name != signed_in.name:
            if app is not None or connection.auth_type == "AppOnly":
                if app is None or target.name not in app.tenants:
                    raise errors.exchange_auth(
                        f"UnAuthorized: the app is not consented in '{target.name}'.")
            elif not may_manage(account, target, world):
                raise _partner_error(account, target)
            else:
                connection.partner_role = partner_role(account, target, world)
        connection.tenant, connection.delegated = target.name, True
    connection.organization = signed_in.name
    connection.token_expiry = expiry
    if isinstance(call.ctx.state.get(EXCHANGE), Connection):  # a new connect replaces it
        call.services.release(call.ctx.state)
        del call.ctx.state[EXCHANGE]
    call.services.limiter.acquire(connection.principal, connection.connection_id,
                                  connection.tenant)
    connection.counted_as = connection.principal
    call.ctx.state[EXCHANGE] = connection
    if call.params.get("ShowBanner", True) is not False:
        call.ctx.write_information(EXO_BANNER)
    return []


def _named_account(world: World, username: str) -> Account:
    """The sandbox account a user token was issued to (its ``upn``)."""
    found = next((a for a in world.accounts if a.username.casefold() == username.casefold()),
                 None)
    return found or Account(username, "", "admin", [])


def _connection_info(call: Call, connection: Connection) -> PSObject:
    tenant = call.world.tenants[connection.tenant]
    expiry = (dt.datetime.fromtimestamp(connection.token_expiry, dt.UTC)
              if connection.token_expiry else None)
    return PSObject(
        [
            ("ConnectionId", connection.connection_id),
            ("State", "Connected"),
            ("Id", 1),
            ("Name", "ExchangeOnline_1"),
            ("UserPrincipalName", None if connection.auth_type == "AppOnly"
             else connection.principal),
            ("ConnectionUri", "https://outlook.office365.com"),
            ("AzureAdAuthorizationEndpointUri", "https://login.microsoftonline.com/organizations"),
            ("TokenExpiryTimeUTC", expiry),
            ("CertificateAuthentication", connection.certificate_thumbprint is not None),
            ("ModuleName", "tmpEXO_sandbox"),
            ("ModulePrefix", ""),
            ("Organization", connection.organization or tenant.name),
            ("DelegatedOrganization", connection.delegated_as
             or (tenant.name if connection.delegated else None)),
            ("AppId", connection.app_id),
            ("PageSize", 1000),
            ("TenantID", tenant.id),
            ("TokenStatus", "Active"),
            ("ConnectionUsedForInbuiltCmdlets", True),
            ("IsEopSession", False),
        ],
        ["Deserialized.Microsoft.Exchange.Management.ExoPowershellSnapin.ConnectionInformation",
         "Deserialized.System.Object"],
    )


def _held(call: Call) -> Connection | None:
    """The Exchange connection this runspace holds, if ``-ConnectionId`` (when given)
    names it."""
    connection = call.ctx.state.get(EXCHANGE)
    if not isinstance(connection, Connection):
        return None
    wanted = call.strings("ConnectionId")
    if wanted and connection.connection_id not in wanted:
        return None
    return connection


def get_connection_information(call: Call) -> list[Any]:
    connection = _held(call)
    return [] if connection is None else [_connection_info(call, connection)]


def disconnect_exchange(call: Call) -> list[Any]:
    if _held(call) is None:
        return []
    call.services.release(call.ctx.state)
    del call.ctx.state[EXCHANGE]
    return []


# ---------------------------------------------------------------------- Graph


def connect_graph(call: Call) -> list[Any]:
    call.reject_unsupported(GRAPH_CONNECT_PARAMETERS)
    environment = call.text("Environment") or "Global"
    audience = GRAPH_AUDIENCES.get(environment.casefold())
    if audience is None:
        raise errors.graph_auth(f"Unknown environment {environment}: the sandbox knows "
                                f"{', '.join(GRAPH_AUDIENCES)}.")
    if audience != GRAPH_AUDIENCE and call.params.get("AccessToken") is None:
        raise errors.graph_auth(f"The sandbox signs in to {environment} with -AccessToken only.")
    world = call.world
    account = account_of(world, call.ctx.session)
    token = call.params.get("AccessToken")
    tenant_id = call.text("TenantId")
    credential = call.params.get("ClientSecretCredential")
    client_id = call.text("ClientId") or (
        str(credential.get("UserName")) if isinstance(credential, PSObject) else None)
    expiry: float | None = None
    if token is not None:
        raw = token.reveal() if isinstance(token, SecureString) else str(token)
        tenant = _token_tenant(world, raw)
        claims = _verify(call, raw, audience, tenant)
        app_only = claims.get("idtyp") == "app"
        connection = Connection(GRAPH, tenant.name,
                                str(claims.get("appid") if app_only else claims.get("upn")),
                                "UserProvidedAccessToken", app_id=str(claims.get("appid")),
                                scopes=list(claims.get("roles", []))
                                or str(claims.get("scp", "")).split())
        if not app_only:
            connection.partner_role = partner_role(
                _named_account(world, str(claims.get("upn"))), tenant, world)
        expiry = float(claims["exp"])
        how = "user provided access token"
    elif client_id and (call.has("ClientSecretCredential") or call.has("CertificateThumbprint")
                        or call.has("Certificate") or call.has("CertificateSubjectName")):
        if not tenant_id:
            raise errors.graph_auth("-TenantId is required for app-only authentication.")
        tenant = _tenant_named(world, tenant_id)
        app = _app(world, client_id, tenant)
        if isinstance(credential, PSObject):
            secret = credential.get("Password")
            revealed = secret.reveal() if isinstance(secret, SecureString) else str(secret)
            if app.client_secret is None or revealed != app.client_secret:
                raise errors.graph_auth(
                    f"ClientSecretCredential authentication failed: AADSTS7000215: Invalid "
                    f"client secret provided. Ensure the secret being sent in the request is "
                    f"the client secret value, not the client secret ID, for a secret added "
                    f"to app '{app.client_id}'.")
        else:
            thumbprint = _thumbprint(call)
            if thumbprint is None:
                raise errors.graph_auth(
                    "The sandbox finds certificates by -CertificateThumbprint or -Certificate.")
            _check_certificate(app, thumbprint)
        connection = Connection(GRAPH, tenant.name, app.client_id, "AppOnly",
                                app_id=app.client_id, scopes=list(app.roles))
        how = "application"
    else:
        tenant = _tenant_named(world, tenant_id) if tenant_id else home_tenant(world, account)
        if not may_manage(account, tenant, world):
            raise _partner_error(account, tenant)
        connection = Connection(GRAPH, tenant.name, account.username, "Delegated",
                                app_id=client_id or GRAPH_PUBLIC_CLIENT,
                                scopes=call.strings("Scopes"),
                                partner_role=partner_role(account, tenant, world))
        how = "delegated"
    connection.token_expiry = expiry
    call.ctx.state[GRAPH] = connection
    if not call.params.get("NoWelcome"):
        call.ctx.write_information(GRAPH_WELCOME.format(how=how, client_id=connection.app_id))
    return []




# Get-MgContext's AuthProviderType for each way of connecting. The Learn page shows only
# the delegated (interactive) value; the others are the SDK's names for them (assumed).
AUTH_PROVIDERS = {
    "Delegated": "InteractiveAuthenticationProvider",
    "AppOnly": "ClientCredentialProvider",
    "UserProvidedAccessToken": "UserProvidedToken",
}


def get_mg_context(call: Call) -> list[Any]:
    """The runspace's Graph session, with the properties of the example on Microsoft Learn's
    Get-MgContext page (learn.microsoft.com/powershell/module/microsoft.graph.authentication/
    get-mgcontext); nothing when the runspace holds no Graph connection."""
    connection = call.ctx.state.get(GRAPH)
    if not isinstance(connection, Connection):
        return []
    tenant = call.world.tenants[connection.tenant]
    delegated = connection.auth_type == "Delegated"
    return [PSObject(
        [
            ("ClientId", connection.app_id),
            ("TenantId", tenant.id),
            ("CertificateThumbprint", connection.certificate_thumbprint),
            ("Scopes", list(connection.scopes)),
            ("AuthType", connection.auth_type),
            ("AuthProviderType", AUTH_PROVIDERS[connection.auth_type]),
            ("CertificateName", None),
            ("Account", connection.principal if delegated else None),
            ("AppName", "Microsoft Graph PowerShell"
             if connection.app_id == GRAPH_PUBLIC_CLIENT else None),
            ("ContextScope", "CurrentUser" if delegated else "Process"),
            ("Certificate", None),
            ("PSHostVersion", "7.4.0"),
            ("ClientTimeout", "00:05:00"),
        ],
        ["Deserialized.Microsoft.Graph.PowerShell.Authentication.AuthContext",
         "Deserialized.System.Object"],
    )]
