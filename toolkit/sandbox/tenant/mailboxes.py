"""Exchange mailbox operations: provisioning, New-Mailbox -Shared, Set-Mailbox, Set-CASMailbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.sandbox.tenant import errors
from toolkit.sandbox.tenant.model import CUSTOM_ATTRIBUTE_COUNT, Mailbox, Tenant, User

if TYPE_CHECKING:
    from toolkit.sandbox.tenant.store import TenantStore

Warn = Callable[[str], None]
_ALIAS_INVALID = re.compile(r"[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]")
NO_CHANGE_WARNING = (
    "The command completed successfully but no settings of '{identity}' have been modified."
)


@dataclass
class MultiValueEdit:
    """A MultiValuedProperty argument: a plain list replaces, ``@{Add;Remove}`` edits."""

    replace: list[str] | None = None
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)


def default_domain(tenant: Tenant) -> str:
    default = next((d for d in tenant.domains if d.default and d.verified), None)
    return default.name if default else tenant.name


def accepted(tenant: Tenant, address: str) -> bool:
    domain = tenant.domain(address.rsplit("@", 1)[-1])
    return domain is not None and domain.verified


def make_alias(text: str) -> str:
    alias = _ALIAS_INVALID.sub("", text.split("@", 1)[0]).strip(".")
    return alias or "mailbox"


def _unique_name(tenant: Tenant, base: str, taken: set[str] | None = None) -> str:
    if taken is None:
        taken = {m.name.casefold() for m in tenant.mailboxes.values()}
    name, n = base, 1
    while name.casefold() in taken:
        n += 1
        name = f"{base}{n}"
    return name


def _address_owner(tenant: Tenant, address: str) -> Mailbox | None:
    folded = f"smtp:{address}".casefold()
    return next(
        (m for m in tenant.mailboxes.values()
         if any(a.casefold() == folded for a in m.email_addresses)),
        None,
    )


def build_mailbox(
    tenant: Tenant,
    user: User,
    *,
    guid: str,
    exchange_guid: str,
    created: float,
    kind: str = "UserMailbox",
    name: str | None = None,
    primary_smtp: str | None = None,
    taken_names: set[str] | None = None,
) -> Mailbox:
    """The mailbox Exchange Online gives ``user``: UPN as address when its domain is
    accepted, and the ``alias@<tenant>.onmicrosoft.com`` routing address.

    ``taken_names`` (casefolded mailbox names in use) spares bulk loaders a scan."""
    alias = make_alias(user.mail_nickname or user.upn)
    if primary_smtp is None:
        primary_smtp = user.upn if accepted(tenant, user.upn) else f"{alias}@{tenant.name}"
    addresses = [f"SMTP:{primary_smtp}"]
    routing = f"{alias}@{tenant.name}"
    if routing.casefold() != primary_smtp.casefold():
        addresses.append(f"smtp:{routing}")
    return Mailbox(
        guid=guid,
        user_id=user.id,
        recipient_type_details=kind,
        name=_unique_name(tenant, name or alias, taken_names),
        alias=alias,
        display_name=user.display_name,
        primary_smtp=primary_smtp,
        email_addresses=addresses,
        exchange_guid=exchange_guid,
        created=created,
    )


def provision_mailbox(
    store: TenantStore, tenant: Tenant, user: User, kind: str = "UserMailbox",
    name: str | None = None, primary_smtp: str | None = None,
) -> Mailbox:
    """Create the Exchange mailbox of ``user`` (a licence arrived, or New-Mailbox -Shared)."""
    mailbox = build_mailbox(
        tenant, user, guid=store.new_guid(), exchange_guid=store.new_guid(),
        created=store.now(), kind=kind, name=name, primary_smtp=primary_smtp,
    )
    tenant.add_mailbox(mailbox)
    user.mailbox_due = None
    return mailbox


def new_shared_mailbox(
    store: TenantStore,
    tenant: Tenant,
    name: str,
    *,
    alias: str | None = None,
    display_name: str | None = None,
    primary_smtp: str | None = None,
) -> Mailbox:
    if any(m.name.casefold() == name.casefold() for m in tenant.mailboxes.values()):
        raise errors.already_exists("object", name)
    alias = make_alias(alias or name.replace(" ", ""))
    primary_smtp = primary_smtp or f"{alias}@{default_domain(tenant)}"
    if not accepted(tenant, primary_smtp):
        raise errors.domain_not_accepted(primary_smtp)
    owner = _address_owner(tenant, primary_smtp)
    if owner is not None or any(u.upn.casefold() == primary_smtp.casefold()
                                for u in tenant.users.values()):
        raise errors.proxy_address_in_use(primary_smtp, owner.name if owner else primary_smtp)
    user = User(
        id=store.new_guid(),
        upn=primary_smtp,
        display_name=display_name or name,
        mail_nickname=alias,
        enabled=False,
        created=store.now(),
    )
    tenant.add_user(user)
    return provision_mailbox(store, tenant, user, "SharedMailbox", name, primary_smtp)


# ---------------------------------------------------------------------- Set-Mailbox


def _normalize_proxy(value: str) -> str:
    if value.casefold().startswith("smtp:"):
        return value
    if ":" in value.split("@", 1)[0]:
        raise errors.invalid_argument(
            f'The address type of "{value}" isn\'t supported by the sandbox; use SMTP addresses.'
        )
    return f"smtp:{value}"


def _is_primary(proxy: str) -> bool:
    return proxy.startswith("SMTP:")


def _edit_email_addresses(
    store: TenantStore, tenant: Tenant, mailbox: Mailbox, edit: MultiValueEdit
) -> list[str]:
    if edit.replace is not None:
        proposed = [_normalize_proxy(v) for v in edit.replace]
        if not any(_is_primary(p) for p in proposed):
            current = f"smtp:{mailbox.primary_smtp}".casefold()
            if not any(p.casefold() == current for p in proposed):
                raise errors.task_argument(
                    "The e-mail address list must contain a primary SMTP address (\"SMTP:\")."
                )
            proposed = [f"SMTP:{p[5:]}" if p.casefold() == current else p for p in proposed]
    else:
        proposed = list(mailbox.email_addresses)
        for value in edit.remove:
            proxy = _normalize_proxy(value)
            if proxy[5:].casefold() == mailbox.primary_smtp.casefold():
                raise errors.task_argument(
                    f"The primary SMTP address \"{mailbox.primary_smtp}\" can't be removed. "
                    "Make another address primary first."
                )
            proposed = [p for p in proposed if p.casefold() != proxy.casefold()]
        for value in edit.add:
            proxy = _normalize_proxy(value)
            if _is_primary(proxy):
                proposed = [f"smtp:{p[5:]}" if _is_primary(p) else p for p in proposed]
            proposed = [p for p in proposed if p.casefold() != proxy.casefold()] + [proxy]
    if sum(_is_primary(p) for p in proposed) > 1:
        raise errors.task_argument("Only one primary SMTP address (\"SMTP:\") is allowed.")
    for proxy in proposed:
        address = proxy[5:]
        if not accepted(tenant, address) and not address.casefold().endswith(tenant.name):
            raise errors.domain_not_accepted(address)
        owner = _address_owner(tenant, address)
        if owner is not None and owner.guid != mailbox.guid:
            raise errors.proxy_address_in_use(address, owner.name)
    return proposed


def _edit_recipient_list(
    store: TenantStore, tenant: Tenant, current: list[str], edit: MultiValueEdit
) -> list[str]:
    resolver = store.resolver(tenant)

    def ids(values: list[str]) -> list[str]:
        # A delegate is a mailbox's owner or a mail-enabled security group.
        return [group.id if (group := resolver.group(v)) is not None
                else resolver.mailbox(v).user_id for v in values]

    if edit.replace is not None:
        return list(dict.fromkeys(ids(edit.replace)))
    result = [i for i in current if i not in set(ids(edit.remove))]
    for user_id in ids(edit.add):
        if user_id not in result:
            result.append(user_id)
    return result


SIMPLE_MAILBOX_PROPERTIES = {
    "DisplayName": "display_name",
    "HiddenFromAddressListsEnabled": "hidden_from_address_lists",
}


def set_mailbox(
    store: TenantStore,
    tenant: Tenant,
    identity: str,
    changes: dict[str, Any],
    warn: Warn,
) -> None:
    """Apply Set-Mailbox parameters. ``changes`` keys are the parameter names.

    GrantSendOnBehalfTo and EmailAddresses take a :class:`MultiValueEdit`.
    Everything is validated before anything changes.
    """
    mailbox = store.resolver(tenant).mailbox(identity)
    before = repr(mailbox)
    updates: dict[str, Any] = {}
    for key, value in changes.items():
        if key in SIMPLE_MAILBOX_PROPERTIES:
            updates[SIMPLE_MAILBOX_PROPERTIES[key]] = value
        elif key.startswith("CustomAttribute") and key[15:].isdigit():
            index = int(key[15:]) - 1
            if not 0 <= index < CUSTOM_ATTRIBUTE_COUNT:
                raise errors.invalid_argument(f"Unknown property {key}.")
            attrs = updates.setdefault("custom_attributes", list(mailbox.custom_attributes))
            attrs[index] = "" if value is None else str(value)
        elif key == "GrantSendOnBehalfTo":
            updates["grant_send_on_behalf_to"] = _edit_recipient_list(
                store, tenant, mailbox.grant_send_on_behalf_to, value
            )
        elif key == "EmailAddresses":
            updates["email_addresses"] = _edit_email_addresses(store, tenant, mailbox, value)
        elif key in ("PrimarySmtpAddress", "WindowsEmailAddress"):
            edit = MultiValueEdit(add=[f"SMTP:{value}"])
            updates["email_addresses"] = _edit_email_addresses(store, tenant, mailbox, edit)
        elif key == "Alias":
            updates["alias"] = make_alias(str(value))
        elif key == "Name":
            if any(m.name.casefold() == str(value).casefold() and m is not mailbox
                   for m in tenant.mailboxes.values()):
                raise errors.already_exists("object", str(value))
            updates["name"] = str(value)
        elif key == "Type":
            kinds = {"regular": "UserMailbox", "shared": "SharedMailbox"}
            kind = kinds.get(str(value).casefold())
            if kind is None:
                raise errors.invalid_argument(
                    f'Cannot convert value "{value}" to type ConvertibleMailboxSubType. '
                    "The sandbox supports Regular and Shared."
                )
            updates["recipient_type_details"] = kind
        else:
            raise errors.invalid_argument(f"The sandbox doesn't emulate Set-Mailbox -{key}.")
    for attribute, value in updates.items():
        setattr(mailbox, attribute, value)
    if "email_addresses" in updates:
        mailbox.primary_smtp = next(p[5:] for p in mailbox.email_addresses if _is_primary(p))
    if updates.keys() & {"email_addresses", "alias", "name", "display_name"}:
        tenant.directory_revision += 1
    if repr(mailbox) == before:
        warn(NO_CHANGE_WARNING.format(identity=identity))


CAS_PROPERTIES = {
    "PopEnabled": "pop_enabled",
    "ImapEnabled": "imap_enabled",
    "MAPIEnabled": "mapi_enabled",
    "OWAEnabled": "owa_enabled",
    "ActiveSyncEnabled": "activesync_enabled",
    "EwsEnabled": "ews_enabled",
}


def set_cas_mailbox(
    store: TenantStore, tenant: Tenant, identity: str, changes: dict[str, bool], warn: Warn
) -> None:
    mailbox = store.resolver(tenant).mailbox(identity)
    unknown = [key for key in changes if key not in CAS_PROPERTIES]
    if unknown:
        raise errors.invalid_argument(f"The sandbox doesn't emulate Set-CASMailbox -{unknown[0]}.")
    modified = False
    for key, value in changes.items():
        attribute = CAS_PROPERTIES[key]
        modified |= getattr(mailbox, attribute) != bool(value)
        setattr(mailbox, attribute, bool(value))
    if not modified:
        warn(NO_CHANGE_WARNING.format(identity=identity))
