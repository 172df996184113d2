"""Emulated Microsoft Graph PowerShell cmdlets: users, licences, SKUs, domains, invitations."""

from __future__ import annotations

from typing import Any

from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.tenant import directory, errors, filters, licensing, objects
from toolkit.sandbox.tenant.cmdlet_support import GRAPH, Call, Impl, TenantServices, register
from toolkit.sandbox.tenant.directory import NewUser
from toolkit.sandbox.values import Hashtable, PSObject, SecureString

GRAPH_PAGE_SIZE = 100
# OData property names Get-MgUser -Filter understands -> output property.
USER_FILTER_PROPERTIES = {
    "id": "Id", "userprincipalname": "UserPrincipalName", "displayname": "DisplayName",
    "mail": "Mail", "accountenabled": "AccountEnabled", "usagelocation": "UsageLocation",
    "givenname": "GivenName", "surname": "Surname", "usertype": "UserType",
    "mailnickname": "MailNickname", "jobtitle": "JobTitle", "department": "Department",
    "assignedlicenses": "AssignedLicenses",
}
NEW_USER_FIELDS = ("AccountEnabled", "DisplayName", "MailNickname", "UserPrincipalName",
                   "PasswordProfile", "UsageLocation", "GivenName", "Surname", "JobTitle",
                   "Department")


def register_graph(registry: CmdletRegistry, services: TenantServices) -> None:
    table: list[tuple[str, Impl, bool, bool]] = [  # name, impl, writes, helpdesk
        ("Get-MgUser", get_user, False, True),
        ("New-MgUser", new_user, True, False),
        ("Update-MgUser", update_user, True, True),  # the helpdesk: password resets only
        ("Remove-MgUser", remove_user, True, False),
        ("Set-MgUserLicense", set_user_license, True, False),
        ("Get-MgUserLicenseDetail", get_user_license_detail, False, True),
        ("Get-MgSubscribedSku", get_subscribed_sku, False, True),
        ("Get-MgDomain", get_domain, False, True),
        ("New-MgInvitation", new_invitation, True, False),
    ]
    for name, impl, writes, helpdesk in table:
        register(registry, services, name, impl, service=GRAPH, writes=writes,
                 helpdesk=helpdesk)


def _body(call: Call, fields: tuple[str, ...]) -> dict[str, Any]:
    """Expanded parameters, or the same keys from ``-BodyParameter``."""
    body = call.params.get("BodyParameter")
    values: dict[str, Any] = {}
    if isinstance(body, Hashtable | PSObject):
        items = body.items() if isinstance(body, Hashtable) else body.properties.items()
        by_fold = {f.casefold(): f for f in fields}
        for key, value in items:
            name = by_fold.get(str(key).casefold())
            if name is None:
                raise errors.graph_bad_request(
                    f"The sandbox doesn't emulate the user property '{key}'.")
            values[name] = value
    for name in fields:
        if name in call.params:
            values[name] = call.params[name]
    return values


def get_user(call: Call) -> list[Any]:
    call.reject_unsupported({"UserId", "Filter", "All", "Top", "PageSize", "Property",
                             "ConsistencyLevel", "CountVariable"})
    properties = call.strings("Property")
    if call.has("UserId"):
        user = call.resolver.graph_user(call.text("UserId") or "")
        return [objects.graph_user(call.tenant, user, properties)]
    users = list(call.tenant.users.values())
    text = call.text("Filter")
    if text:
        advanced = (call.text("ConsistencyLevel") or "").casefold() == "eventual"
        predicate = filters.odata(text, advanced=advanced, properties=USER_FILTER_PROPERTIES)
        users = [u for u in users if predicate(objects.graph_user(call.tenant, u, ["*"]))]
    if call.has("Top"):
        users = users[: int(call.params["Top"])]
    elif not call.params.get("All"):
        users = users[:GRAPH_PAGE_SIZE]
    return [objects.graph_user(call.tenant, u, properties) for u in users]


def new_user(call: Call) -> list[Any]:
    values = _body(call, NEW_USER_FIELDS)
    call.reject_unsupported({*NEW_USER_FIELDS, "BodyParameter"})
    for required in ("DisplayName", "MailNickname", "UserPrincipalName", "PasswordProfile"):
        if values.get(required) in (None, ""):
            raise errors.graph_bad_request(
                f"Invalid value specified for property '{required[0].lower()}{required[1:]}' "
                "of resource 'User'.")
    profile = dict(values["PasswordProfile"].items()) if isinstance(
        values["PasswordProfile"], Hashtable) else {}
    password = next((v for k, v in profile.items() if str(k).casefold() == "password"), None)
    force = next((v for k, v in profile.items()
                  if str(k).casefold() == "forcechangepasswordnextsignin"), True)
    user = directory.create_user(call.store, call.tenant, NewUser(
        upn=str(values["UserPrincipalName"]),
        display_name=str(values["DisplayName"]),
        password=password.reveal() if isinstance(password, SecureString) else str(password or ""),
        mail_nickname=str(values["MailNickname"]),
        force_change=bool(force),
        enabled=bool(values.get("AccountEnabled", False)),
        given_name=str(values.get("GivenName") or ""),
        surname=str(values.get("Surname") or ""),
        usage_location=values.get("UsageLocation"),
        job_title=values.get("JobTitle"),
        department=values.get("Department"),
    ))
    return [objects.graph_user(call.tenant, user)]


def update_user(call: Call) -> list[Any]:
    values = _body(call, NEW_USER_FIELDS)
    call.reject_unsupported({*NEW_USER_FIELDS, "UserId", "BodyParameter"})
    if call.ctx.session.role != "admin" and set(values) - {"PasswordProfile"}:
        raise errors.graph_forbidden()
    user = call.resolver.graph_user(call.text("UserId") or "")
    directory.update_user(call.store, call.tenant, user, values)
    return []


def remove_user(call: Call) -> list[Any]:
    user = call.resolver.graph_user(call.text("UserId") or "")
    directory.remove_user(call.tenant, user)
    return []


def _sku_ids(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [] if value is None else [value]
    ids: list[str] = []
    for item in items:
        sku = item.get("SkuId") if isinstance(item, Hashtable | PSObject) else item
        if sku is None:
            raise errors.graph_bad_request("Each entry of -AddLicenses needs a SkuId.")
        ids.append(str(sku))
    return ids


def set_user_license(call: Call) -> list[Any]:
    call.reject_unsupported({"UserId", "AddLicenses", "RemoveLicenses"})
    if "AddLicenses" not in call.params or "RemoveLicenses" not in call.params:
        raise errors.graph_bad_request(
            "Set-MgUserLicense needs both -AddLicenses and -RemoveLicenses (use @() for none).")
    user = call.resolver.graph_user(call.text("UserId") or "")
    licensing.set_user_license(call.store, call.tenant, user,
                               _sku_ids(call.params["AddLicenses"]),
                               call.strings("RemoveLicenses"))
    return [objects.graph_user(call.tenant, user)]


def get_user_license_detail(call: Call) -> list[Any]:
    user = call.resolver.graph_user(call.text("UserId") or "")
    skus = [call.tenant.sku_by_id(s) for s in user.licenses]
    return [objects.license_detail(sku) for sku in skus if sku is not None]


def get_subscribed_sku(call: Call) -> list[Any]:
    call.reject_unsupported({"SubscribedSkuId", "All", "Property", "PageSize", "Top"})
    skus = list(call.tenant.skus)
    wanted = call.text("SubscribedSkuId")
    if wanted:
        skus = [s for s in skus if f"{call.tenant.id}_{s.sku_id}" == wanted.casefold()]
        if not skus:
            raise errors.graph_not_found(wanted)
    return [objects.subscribed_sku(call.tenant, s) for s in skus]


def get_domain(call: Call) -> list[Any]:
    call.reject_unsupported({"DomainId", "All", "Property", "PageSize", "Top"})
    domains = list(call.tenant.domains)
    wanted = call.text("DomainId")
    if wanted:
        domains = [d for d in domains if d.name == wanted.casefold()]
        if not domains:
            raise errors.graph_not_found(wanted)
    return [objects.graph_domain(d) for d in domains]


def new_invitation(call: Call) -> list[Any]:
    call.reject_unsupported({"InvitedUserEmailAddress", "InviteRedirectUrl",
                             "InvitedUserDisplayName", "SendInvitationMessage",
                             "InvitedUserType"})
    email = call.text("InvitedUserEmailAddress") or ""
    redirect = call.text("InviteRedirectUrl")
    if not redirect:
        raise errors.graph_bad_request("Invalid value specified for property "
                                       "'inviteRedirectUrl' of resource 'Invitation'.")
    user = directory.invite_guest(call.store, call.tenant, email,
                                  call.text("InvitedUserDisplayName"))
    return [objects.graph_invitation(user, email, redirect, call.store.new_guid())]
