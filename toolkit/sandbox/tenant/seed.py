"""Seed files: the JSON format of ``psbridge sandbox serve --seed FILE.json``.

Extra keys are ignored so seeds can carry notes; wrong types or missing keys raise
:class:`SeedError` naming the key path (``tenants[0].users[3].upn``). Identifiers not
given in the seed are derived deterministically (uuid5) from names, so loading the same
seed twice gives the same tenant.

Format (keys marked ? are optional)::

    {"accounts": [{"username", "password", "role"?: "admin"|"helpdesk", "tenants"?: [name]}],
     "apps"?: [{"client_id", "client_secret"?, "certificate_pem"?, "tenants", "roles"?}],
     "tenants": [{
       "name": "contoso.onmicrosoft.com", "id"?, "display_name"?,
       "partners"?: [username | {"account", "role"?: "admin"|"helpdesk", "accepted"?: true}],
       "domains"?: [{"name", "verified"?: true, "default"?: false}],
       "skus"?: [{"part_number", "sku_id"?, "enabled", "service_plans"?:
                  [{"name", "id"?, "exchange"?}]}],
       "users"?: [{"upn", "display_name", "given_name"?, "surname"?, "enabled"?,
                  "usage_location"?, "licenses"?: [part_number], "mailbox"?: "user"|"shared"|null,
                  "alias"?, "password"?, "job_title"?, "department"?, "id"?,
                  "synced"?: false}],
       "groups"?: [{"email", "display_name", "members": [upn]}],  # mail-enabled security
       "permissions"?: [{"mailbox", "trustee", "right": "FullAccess"|"SendAs"|"SendOnBehalf",
                        "automapping"?, "deny"?}],
       "imap_sources"?: [{"host", "port"?, "security"?: "ssl"|"tls"|"none",
                          "accounts": [{"user", "password", "items"?, "large_items"?,
                                        "folder_root"?: "[Gmail]"|"[Google Mail]",
                                        "archived"?}]}]}]}

A permission trustee may be an orphaned SID (``S-1-5-21-...``): audit noise as left by a
deleted account.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, TypeVar

from toolkit.sandbox.tenant.identity_resolution import ORPHAN_SID
from toolkit.sandbox.tenant.mailboxes import build_mailbox, make_alias
from toolkit.sandbox.tenant.model import (
    Account,
    AppRegistration,
    Domain,
    Group,
    ImapAccount,
    ImapSource,
    MailboxAce,
    Partner,
    PasswordProfile,
    RecipientAce,
    ServicePlan,
    Sku,
    Tenant,
    User,
    World,
)

SEED_NAMESPACE = uuid.UUID("6d1f8f5e-2f0c-4f7a-9a59-2b1c0e5f7a31")
SEED_CREATED = 1_705_312_800.0  # 2024-01-15 10:00 UTC: when seeded objects "were created"
T = TypeVar("T")

EXCHANGE_ENTERPRISE = ServicePlan("EXCHANGE_S_ENTERPRISE", "efb87545-963c-4e0d-99df-69c6916d9eb0",
                                  True)
EXCHANGE_STANDARD = ServicePlan("EXCHANGE_S_STANDARD", "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
                                True)
SHAREPOINT = ServicePlan("SHAREPOINTENTERPRISE", "5dbe027f-2339-4123-9542-606e4d348a72")
TEAMS = ServicePlan("TEAMS1", "57ff2da0-773e-42df-b2af-ffb7a2317929")
INTUNE = ServicePlan("INTUNE_A", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5")
AAD_P1 = ServicePlan("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d")
AAD_P2 = ServicePlan("AAD_PREMIUM_P2", "eec0eb4f-6444-4f95-aba0-50c24d67f998")

# Microsoft's published SKU ids and the plans that matter here.
KNOWN_SKUS: dict[str, tuple[str, list[ServicePlan]]] = {
    "ENTERPRISEPACK": ("6fd2c87f-b296-42f0-b197-1e91e994b900",
                       [EXCHANGE_ENTERPRISE, SHAREPOINT, TEAMS]),
    "ENTERPRISEPREMIUM": ("c7df2760-2c81-4ef7-b578-5b5392b571df",
                          [EXCHANGE_ENTERPRISE, SHAREPOINT, TEAMS]),
    "O365_BUSINESS_PREMIUM": ("f245ecc8-75af-4f8e-b61f-27d8114de5f3",
                              [EXCHANGE_STANDARD, SHAREPOINT, TEAMS]),
    "EXCHANGESTANDARD": ("4b9405b0-7788-4568-add1-99614e613b69", [EXCHANGE_STANDARD]),
    "EMS": ("efccb6f7-5641-4e0e-bd10-b4976e1bf68e", [INTUNE, AAD_P1]),
    "EMSPREMIUM": ("b05e124f-c7cc-45a0-a6aa-8cf78c946968", [INTUNE, AAD_P1, AAD_P2]),
}


class SeedError(ValueError):
    """The seed is malformed; the message names the key path."""


def seed_guid(*parts: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, "|".join(p.casefold() for p in parts)))


# ---------------------------------------------------------------------- typed access


def _get(obj: dict[str, Any], key: str, kind: type[T], path: str, default: Any = ...) -> T:
    if key not in obj or obj[key] is None:
        if default is ...:
            raise SeedError(f"{path}.{key}: required")
        return default
    value = obj[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, bool):
        raise SeedError(f"{path}.{key}: expected a number, got {value!r}")
    if not isinstance(value, kind):
        raise SeedError(f"{path}.{key}: expected {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "a number", bool: "true or false", list: "a list",
            dict: "an object", float: "a number"}.get(kind, kind.__name__)


def _objects(obj: dict[str, Any], key: str, path: str) -> list[tuple[str, dict[str, Any]]]:
    items = _get(obj, key, list, path, [])
    result = []
    for index, item in enumerate(items):
        item_path = f"{path}.{key}[{index}]" if path else f"{key}[{index}]"
        if not isinstance(item, dict):
            raise SeedError(f"{item_path}: expected an object")
        result.append((item_path, item))
    return result


def _strings(obj: dict[str, Any], key: str, path: str) -> list[str]:
    items = _get(obj, key, list, path, [])
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise SeedError(f"{path}.{key}[{index}]: expected a string")
    return list(items)


# ---------------------------------------------------------------------- loading


def load_seed_file(path: Path) -> World:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise SeedError(f"{path} is not valid JSON: {exc}") from exc
    return load_seed(data)


def load_seed(data: Any) -> World:
    if not isinstance(data, dict):
        raise SeedError("the seed must be a JSON object with a \"tenants\" list")
    world = World()
    for path, item in _objects(data, "tenants", ""):
        tenant = _tenant(item, path)
        if tenant.name in world.tenants:
            raise SeedError(f"{path}.name: duplicate tenant {tenant.name!r}")
        world.tenants[tenant.name] = tenant
    for path, item in _objects(data, "accounts", ""):
        role = _get(item, "role", str, path, "admin")
        if role not in ("admin", "helpdesk"):
            raise SeedError(f"{path}.role: expected \"admin\" or \"helpdesk\", got {role!r}")
        tenants = _strings(item, "tenants", path)
        for name in tenants:
            if name not in world.tenants:
                raise SeedError(f"{path}.tenants: unknown tenant {name!r}")
        world.accounts.append(Account(_get(item, "username", str, path),
                                      _get(item, "password", str, path), role, tenants))
    for path, item in _objects(data, "apps", ""):
        tenants = _strings(item, "tenants", path)
        for name in tenants:
            if name not in world.tenants:
                raise SeedError(f"{path}.tenants: unknown tenant {name!r}")
        secret = _get(item, "client_secret", str, path, None)
        certificate = _get(item, "certificate_pem", str, path, None)
        if secret is None and certificate is None:
            raise SeedError(f"{path}: an app needs client_secret or certificate_pem")
        world.apps.append(AppRegistration(
            client_id=_get(item, "client_id", str, path).casefold(),
            client_secret=secret,
            certificate_pem=certificate,
            tenants=tenants,
            roles=_strings(item, "roles", path),
            display_name=_get(item, "display_name", str, path, "psbridge automation"),
        ))
    return world


def _partners(item: dict[str, Any], path: str) -> list[Partner]:
    """A tenant's partner relationships: an account name is an accepted admin relationship."""
    found: list[Partner] = []
    for index, entry in enumerate(item.get("partners", [])):
        where = f"{path}.partners[{index}]"
        if isinstance(entry, str):
            found.append(Partner(entry))
            continue
        if not isinstance(entry, dict):
            raise SeedError(f"{where}: expected an account name or an object")
        role = _get(entry, "role", str, where, "admin")
        if role not in ("admin", "helpdesk"):
            raise SeedError(f"{where}.role: expected \"admin\" or \"helpdesk\", got {role!r}")
        found.append(Partner(_get(entry, "account", str, where), role,
                             _get(entry, "accepted", bool, where, True)))
    return found


def _tenant(item: dict[str, Any], path: str) -> Tenant:
    name = _get(item, "name", str, path).casefold()
    if not name.endswith(".onmicrosoft.com"):
        raise SeedError(f"{path}.name: the tenant name is its initial domain, "
                        f"like contoso.onmicrosoft.com (got {name!r})")
    tenant = Tenant(
        id=_get(item, "id", str, path, seed_guid("tenant", name)).casefold(),
        name=name,
        display_name=_get(item, "display_name", str, path, name.split(".")[0].title()),
        domains=[Domain(name, verified=True, initial=True)],
        partners=_partners(item, path),
    )
    for dpath, domain in _objects(item, "domains", path):
        domain_name = _get(domain, "name", str, dpath).casefold()
        if domain_name == name:
            continue
        tenant.domains.append(Domain(domain_name, _get(domain, "verified", bool, dpath, True),
                                     False, _get(domain, "default", bool, dpath, False)))
    if not any(d.default for d in tenant.domains):
        tenant.domains[0].default = True
    for spath, sku in _objects(item, "skus", path):
        tenant.skus.append(_sku(sku, spath))
    taken: set[str] = set()
    for upath, user in _objects(item, "users", path):
        _user(tenant, user, upath, taken)
    index = _name_index(tenant)
    for gpath, group in _objects(item, "groups", path):
        _group(tenant, index, group, gpath)
    for ppath, permission in _objects(item, "permissions", path):
        _permission(tenant, index, permission, ppath)
    for ipath, source in _objects(item, "imap_sources", path):
        tenant.imap_sources.append(_imap_source(source, ipath))
    return tenant


def _sku(item: dict[str, Any], path: str) -> Sku:
    part_number = _get(item, "part_number", str, path)
    known_id, known_plans = KNOWN_SKUS.get(part_number.upper(), (None, []))
    plans = [
        ServicePlan(_get(p, "name", str, ppath),
                    _get(p, "id", str, ppath, seed_guid("plan", _get(p, "name", str, ppath))),
                    _get(p, "exchange", bool, ppath, False))
        for ppath, p in _objects(item, "service_plans", path)
    ] or list(known_plans)
    sku_id = _get(item, "sku_id", str, path, known_id or seed_guid("sku", part_number))
    return Sku(part_number, sku_id.casefold(), _get(item, "enabled", int, path), plans)


def _user(tenant: Tenant, item: dict[str, Any], path: str, taken: set[str]) -> None:
    """Add one seed user; ``taken`` holds the casefolded UPNs and mailbox names so far."""
    upn = _get(item, "upn", str, path)
    if upn.count("@") != 1:
        raise SeedError(f"{path}.upn: not a user principal name: {upn!r}")
    if tenant.domain(upn.split("@")[1]) is None:
        raise SeedError(f"{path}.upn: {upn!r} is not on a domain of {tenant.name}")
    if f"upn:{upn.casefold()}" in taken:
        raise SeedError(f"{path}.upn: duplicate user {upn!r}")
    taken.add(f"upn:{upn.casefold()}")
    kind = _get(item, "mailbox", str, path, "")
    if kind not in ("", "user", "shared"):
        raise SeedError(f"{path}.mailbox: expected \"user\", \"shared\" or null, got {kind!r}")
    licenses = []
    for part_number in _strings(item, "licenses", path):
        sku = tenant.sku_by_part_number(part_number)
        if sku is None:
            raise SeedError(f"{path}.licenses: no SKU {part_number!r} in {tenant.name}")
        licenses.append(sku.sku_id)
    user = User(
        id=_get(item, "id", str, path, seed_guid(tenant.name, "user", upn)).casefold(),
        upn=upn,
        display_name=_get(item, "display_name", str, path),
        mail_nickname=_get(item, "alias", str, path, make_alias(upn)),
        given_name=_get(item, "given_name", str, path, ""),
        surname=_get(item, "surname", str, path, ""),
        enabled=_get(item, "enabled", bool, path, kind != "shared"),
        usage_location=_get(item, "usage_location", str, path, None),
        password_profile=PasswordProfile(_get(item, "password", str, path, ""), False),
        licenses=licenses,
        job_title=_get(item, "job_title", str, path, None),
        department=_get(item, "department", str, path, None),
        created=SEED_CREATED,
        synced=_get(item, "synced", bool, path, False),
    )
    tenant.users[user.id] = user
    if kind:
        mailbox = build_mailbox(
            tenant, user,
            guid=seed_guid(tenant.name, "mailbox", upn),
            exchange_guid=seed_guid(tenant.name, "exchange", upn),
            created=SEED_CREATED,
            kind="SharedMailbox" if kind == "shared" else "UserMailbox",
            name=user.display_name if kind == "shared" else None,
            taken_names=taken,
        )
        taken.add(mailbox.name.casefold())
        tenant.add_mailbox(mailbox)


def _name_index(tenant: Tenant) -> dict[str, User]:
    """UPN, alias, mailbox name and SMTP addresses -> user, for seed permissions."""
    index: dict[str, User] = {}
    for user in tenant.users.values():
        index[user.upn.casefold()] = user
        index.setdefault(user.mail_nickname.casefold(), user)
    for mailbox in tenant.mailboxes.values():
        user = tenant.users[mailbox.user_id]
        index.setdefault(mailbox.name.casefold(), user)
        for address in mailbox.email_addresses:
            index.setdefault(address[5:].casefold(), user)
    return index


def _lookup(tenant: Tenant, index: dict[str, User], identity: str, path: str) -> User:
    user = index.get(identity.casefold())
    if user is None:
        raise SeedError(f"{path}: no user or mailbox {identity!r} in {tenant.name}")
    return user


def _group(tenant: Tenant, index: dict[str, User], item: dict[str, Any], path: str) -> None:
    email = _get(item, "email", str, path).casefold()
    members = [_lookup(tenant, index, upn, f"{path}.members").id
               for upn in _strings(item, "members", path)]
    group = Group(seed_guid(tenant.name, "group", email), email,
                  _get(item, "display_name", str, path), make_alias(email), members)
    tenant.groups[group.id] = group


def _permission(tenant: Tenant, index: dict[str, User], item: dict[str, Any], path: str) -> None:
    owner = _lookup(tenant, index, _get(item, "mailbox", str, path), f"{path}.mailbox")
    mailbox = tenant.mailbox_of(owner.id)
    if mailbox is None:
        raise SeedError(f"{path}.mailbox: {owner.upn} has no mailbox")
    trustee_name = _get(item, "trustee", str, path)
    right = _get(item, "right", str, path)
    if ORPHAN_SID.match(trustee_name):
        trustee_id, principal = None, trustee_name.upper()
    else:
        group = next((g for g in tenant.groups.values()
                      if trustee_name.casefold() in (g.email, g.alias.casefold())), None)
        trustee_id = (group.id if group is not None
                      else _lookup(tenant, index, trustee_name, f"{path}.trustee").id)
        principal = ""
    deny = _get(item, "deny", bool, path, False)
    if right == "FullAccess":
        mailbox.aces.append(MailboxAce(["FullAccess"], trustee_id, principal, deny=deny,
                                       automapping=_get(item, "automapping", bool, path, True)))
    elif right == "SendAs":
        mailbox.recipient_aces.append(RecipientAce(["SendAs"], trustee_id, principal,
                                                   "Deny" if deny else "Allow"))
    elif right == "SendOnBehalf":
        if trustee_id is None:
            raise SeedError(f"{path}.trustee: SendOnBehalf needs a user, not a SID")
        mailbox.grant_send_on_behalf_to.append(trustee_id)
    else:
        raise SeedError(f"{path}.right: expected FullAccess, SendAs or SendOnBehalf, "
                        f"got {right!r}")


def _imap_source(item: dict[str, Any], path: str) -> ImapSource:
    security = _get(item, "security", str, path, "ssl")
    canonical = {"ssl": "Ssl", "tls": "Tls", "none": "None"}.get(security.casefold())
    if canonical is None:
        raise SeedError(f"{path}.security: expected ssl, tls or none, got {security!r}")
    return ImapSource(
        host=_get(item, "host", str, path),
        port=_get(item, "port", int, path, 993),
        security=canonical,
        accounts=[
            ImapAccount(_get(a, "user", str, apath), _get(a, "password", str, apath),
                        _get(a, "items", int, apath, 0), _get(a, "large_items", int, apath, 0),
                        _get(a, "folder_root", str, apath, "[Gmail]"),
                        _get(a, "archived", int, apath, 0))
            for apath, a in _objects(item, "accounts", path)
        ],
    )
