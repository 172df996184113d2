"""Emulated MSOnline cmdlets (the retired module many runbooks still use), on the same
model as Graph. ``-TenantId`` reaches a customer tenant of a partner account."""

from __future__ import annotations

from typing import Any

from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.tenant import directory, errors, licensing, objects
from toolkit.sandbox.tenant.cmdlet_support import (
    MSONLINE,
    Call,
    Impl,
    TenantServices,
    register,
)
from toolkit.sandbox.tenant.cmdlets_connect import may_manage
from toolkit.sandbox.tenant.directory import NewUser
from toolkit.sandbox.tenant.model import Account, Tenant, User
from toolkit.sandbox.values import PSObject

MSOL_DEFAULT_MAX_RESULTS = 500
MORE_RESULTS_WARNING = "More results are available. Please specify one of the All or " \
    "MaxResults parameters."


def register_msonline(registry: CmdletRegistry, services: TenantServices) -> None:
    table: list[tuple[str, Impl, bool, bool]] = [  # name, impl, writes, helpdesk
        ("Get-MsolUser", get_user, False, True),
        ("New-MsolUser", new_user, True, False),
        ("Set-MsolUser", set_user, True, False),
        ("Remove-MsolUser", remove_user, True, False),
        ("Set-MsolUserLicense", set_user_license, True, False),
        ("Set-MsolUserPassword", set_user_password, True, True),
        ("Set-MsolUserPrincipalName", set_user_principal_name, True, False),
        ("Get-MsolAccountSku", get_account_sku, False, True),
        ("Get-MsolDomain", get_domain, False, True),
        ("Get-MsolCompanyInformation", get_company_information, False, True),
    ]
    for name, impl, writes, helpdesk in table:
        register(registry, services, name, impl, service=MSONLINE, writes=writes,
                 helpdesk=helpdesk)


def _tenant(call: Call) -> Tenant:
    """The connected tenant, or the customer ``-TenantId`` names (partner access)."""
    wanted = call.text("TenantId")
    if not wanted or wanted.casefold() == call.tenant.id:
        return call.tenant
    tenant = next((t for t in call.world.tenants.values() if t.id == wanted.casefold()), None)
    principal = call.connection.principal if call.connection else call.ctx.session.account
    account = next((a for a in call.world.accounts
                    if a.username.casefold() == principal.casefold()),
                   Account(principal, "", "admin", []))
    if tenant is None or not may_manage(account, tenant, call.world):
        raise errors.msol_bad_request(
            "Access Denied. You do not have permissions to call this cmdlet.",
            "MicrosoftOnlineException")
    return tenant


def _user(call: Call, tenant: Tenant) -> User:
    resolver = call.store.resolver(tenant)
    return resolver.msol_user(upn=call.text("UserPrincipalName"), object_id=call.text("ObjectId"))


def _bad(message: str) -> errors.TenantError:
    return errors.msol_bad_request(message)


def get_user(call: Call) -> list[Any]:
    call.reject_unsupported({"UserPrincipalName", "ObjectId", "All", "MaxResults",
                             "SearchString", "UnlicensedUsersOnly", "EnabledFilter",
                             "UsageLocation", "DomainName", "TenantId"})
    tenant = _tenant(call)
    if call.has("UserPrincipalName") or call.has("ObjectId"):
        return [objects.msol_user(tenant, _user(call, tenant))]
    users = list(tenant.users.values())
    search = (call.text("SearchString") or "").casefold()
    if search:
        users = [u for u in users if u.upn.casefold().startswith(search)
                 or u.display_name.casefold().startswith(search)]
    if call.params.get("UnlicensedUsersOnly"):
        users = [u for u in users if not u.licenses]
    enabled = (call.text("EnabledFilter") or "All").casefold()
    if enabled == "enabledonly":
        users = [u for u in users if u.enabled]
    elif enabled == "disabledonly":
        users = [u for u in users if not u.enabled]
    location = call.text("UsageLocation")
    if location:
        users = [u for u in users if (u.usage_location or "").casefold() == location.casefold()]
    domain = call.text("DomainName")
    if domain:
        users = [u for u in users if u.upn.casefold().endswith("@" + domain.casefold())]
    if not call.params.get("All"):
        limit = int(call.params.get("MaxResults") or MSOL_DEFAULT_MAX_RESULTS)
        if len(users) > limit and not call.has("MaxResults"):
            call.warn(MORE_RESULTS_WARNING)
        users = users[:limit]
    return [objects.msol_user(tenant, u) for u in users]


def new_user(call: Call) -> list[Any]:
    call.reject_unsupported({"UserPrincipalName", "DisplayName", "FirstName", "LastName",
                             "Password", "ForceChangePassword", "UsageLocation",
                             "LicenseAssignment", "Title", "Department", "BlockCredential",
                             "TenantId"})
    tenant = _tenant(call)
    password = call.text("Password") or directory.generate_password(call.store)
    user = directory.create_user(call.store, tenant, NewUser(
        upn=call.text("UserPrincipalName") or "",
        display_name=call.text("DisplayName") or "",
        password=password,
        force_change=call.params.get("ForceChangePassword", True) is not False,
        enabled=not call.params.get("BlockCredential", False),
        given_name=call.text("FirstName") or "",
        surname=call.text("LastName") or "",
        usage_location=call.text("UsageLocation"),
        job_title=call.text("Title"),
        department=call.text("Department"),
    ), bad=_bad)
    licenses = call.strings("LicenseAssignment")
    if licenses:
        licensing.msol_set_user_license(call.store, tenant, user, licenses, [])
    shown = objects.msol_user(tenant, user)
    return [PSObject([("Password", password), *shown.properties.items()], shown.type_names)]


MSOL_USER_FIELDS = {
    "DisplayName": "DisplayName", "FirstName": "GivenName", "LastName": "Surname",
    "Title": "JobTitle", "Department": "Department", "UsageLocation": "UsageLocation",
}


def set_user(call: Call) -> list[Any]:
    call.reject_unsupported({"UserPrincipalName", "ObjectId", "TenantId", "BlockCredential",
                             *MSOL_USER_FIELDS})
    tenant = _tenant(call)
    user = _user(call, tenant)
    changes = {graph: call.params[msol] for msol, graph in MSOL_USER_FIELDS.items()
               if msol in call.params}
    if "BlockCredential" in call.params:
        changes["AccountEnabled"] = not call.params["BlockCredential"]
    directory.update_user(call.store, tenant, user, changes, bad=_bad)
    return []


def remove_user(call: Call) -> list[Any]:
    tenant = _tenant(call)
    directory.remove_user(tenant, _user(call, tenant))
    return []


def set_user_license(call: Call) -> list[Any]:
    call.reject_unsupported({"UserPrincipalName", "ObjectId", "TenantId", "AddLicenses",
                             "RemoveLicenses"})
    tenant = _tenant(call)
    licensing.msol_set_user_license(call.store, tenant, _user(call, tenant),
                                    call.strings("AddLicenses"), call.strings("RemoveLicenses"))
    return []


def set_user_password(call: Call) -> list[Any]:
    call.reject_unsupported({"UserPrincipalName", "ObjectId", "TenantId", "NewPassword",
                             "ForceChangePassword"})
    tenant = _tenant(call)
    password = directory.reset_password(
        call.store, tenant, _user(call, tenant), call.text("NewPassword"),
        call.params.get("ForceChangePassword", True) is not False)
    return [password]


def set_user_principal_name(call: Call) -> list[Any]:
    call.reject_unsupported({"UserPrincipalName", "ObjectId", "TenantId",
                             "NewUserPrincipalName"})
    tenant = _tenant(call)
    directory.change_upn(tenant, _user(call, tenant), call.text("NewUserPrincipalName") or "")
    return []


def get_account_sku(call: Call) -> list[Any]:
    tenant = _tenant(call)
    return [objects.msol_account_sku(tenant, sku) for sku in tenant.skus]


def get_domain(call: Call) -> list[Any]:
    call.reject_unsupported({"DomainName", "TenantId", "Status"})
    tenant = _tenant(call)
    domains = list(tenant.domains)
    name = call.text("DomainName")
    if name:
        domains = [d for d in domains if d.name == name.casefold()]
        if not domains:
            raise errors.msol_bad_request(
                f"Domain {name} does not exist.", "DomainNotFoundException")
    status = call.text("Status")
    if status:
        domains = [d for d in domains
                   if ("verified" if d.verified else "unverified") == status.casefold()]
    return [objects.msol_domain(d) for d in domains]


def get_company_information(call: Call) -> list[Any]:
    tenant = _tenant(call)
    return [PSObject(
        [("DisplayName", tenant.display_name), ("ObjectId", tenant.id),
         ("InitialDomain", tenant.name),
         ("DirectorySynchronizationEnabled", False), ("UsersPermissionToCreateGroupsEnabled",
                                                      True)],
        ["Deserialized.Microsoft.Online.Administration.Company", "Deserialized.System.Object"],
    )]
