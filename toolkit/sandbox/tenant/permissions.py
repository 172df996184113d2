"""Mailbox permissions (FullAccess & co.) and recipient permissions (SendAs).

Only explicit entries are stored. The entries every Exchange Online mailbox carries
(``NT AUTHORITY\\SELF`` and the inherited system entries, some of them Deny) are added
when the ACL is read, so audits meet the same noise as in a real tenant. A trustee whose
directory user was deleted shows up as an orphaned SID, as in Exchange.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolkit.sandbox.tenant import errors
from toolkit.sandbox.tenant.identity_resolution import ORPHAN_SID, distinguished_name
from toolkit.sandbox.tenant.model import (
    MAX_MAILBOX_ACES,
    SELF_PRINCIPAL,
    Mailbox,
    MailboxAce,
    RecipientAce,
    Tenant,
)

if TYPE_CHECKING:
    from toolkit.sandbox.tenant.store import TenantStore

Warn = Callable[[str], None]

MAILBOX_RIGHTS = (
    "ChangeOwner", "ChangePermission", "DeleteItem", "ExternalAccount", "FullAccess",
    "ReadPermission",
)
RECIPIENT_RIGHTS = ("SendAs",)
INHERITANCE_TYPES = ("None", "All", "Children", "Descendents", "SelfAndChildren")

_FOREST = "NAMPR01A001"
# (principal, rights, deny) inherited by every mailbox from the organization.
SYSTEM_ENTRIES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (f"{_FOREST}\\Administrator", ("FullAccess",), True),
    (f"{_FOREST}\\Domain Admins", ("FullAccess",), True),
    (f"{_FOREST}\\Enterprise Admins", ("FullAccess",), True),
    ("NT AUTHORITY\\SYSTEM", ("FullAccess",), False),
    ("NT AUTHORITY\\NETWORK SERVICE", ("ReadPermission",), False),
    (f"{_FOREST}\\Exchange Servers", ("FullAccess", "ReadPermission"), False),
    (f"{_FOREST}\\Managed Availability Servers", ("ReadPermission",), False),
    (f"{_FOREST}\\Organization Management", ("FullAccess", "DeleteItem", "ReadPermission",
                                              "ChangePermission", "ChangeOwner"), False),
)
IMPLICIT_ACE_COUNT = 1 + len(SYSTEM_ENTRIES)


@dataclass(frozen=True)
class AceView:
    """One row of Get-MailboxPermission."""

    identity: str
    user: str
    rights: tuple[str, ...]
    is_inherited: bool
    deny: bool
    inheritance_type: str


@dataclass(frozen=True)
class RecipientAceView:
    """One row of Get-RecipientPermission."""

    identity: str
    trustee: str
    access_control_type: str
    rights: tuple[str, ...]
    is_inherited: bool
    inheritance_type: str


def orphan_sid(user_id: str) -> str:
    """The SID a deleted trustee leaves behind (stable per user id)."""
    digest = hashlib.sha256(user_id.encode()).digest()
    parts = [int.from_bytes(digest[i : i + 4], "big") for i in (0, 4, 8)]
    rid = 1000 + int.from_bytes(digest[12:14], "big")
    return f"S-1-5-21-{parts[0]}-{parts[1]}-{parts[2]}-{rid}"


def principal_name(tenant: Tenant, trustee_id: str | None, principal: str) -> str:
    """How Exchange Online prints a trustee: its UPN, or the raw principal / SID."""
    if trustee_id is None:
        return principal
    user = tenant.users.get(trustee_id) or tenant.groups.get(trustee_id)
    return user.upn if user is not None else orphan_sid(trustee_id)


def _validate(rights: Iterable[str], allowed: tuple[str, ...], type_name: str) -> list[str]:
    result: list[str] = []
    by_fold = {r.casefold(): r for r in allowed}
    for right in rights:
        canonical = by_fold.get(str(right).casefold())
        if canonical is None:
            raise errors.invalid_argument(
                f'Cannot convert value "{right}" to type "{type_name}". Error: "Unable to match '
                f'the identifier name {right} to a valid enumerator name. Specify one of the '
                f'following enumerator names and try again: {", ".join(allowed)}"'
            )
        if canonical not in result:
            result.append(canonical)
    return result


def _matches(tenant: Tenant, ace: MailboxAce | RecipientAce, user_id: str | None, raw: str) -> bool:
    if user_id is not None:
        return ace.trustee_id == user_id
    return principal_name(tenant, ace.trustee_id, ace.principal).casefold() == raw.casefold()


# ---------------------------------------------------------------------- FullAccess & co


def mailbox_aces(
    tenant: Tenant, mailbox: Mailbox, trustee: str | None = None
) -> list[AceView]:
    """Get-MailboxPermission rows (explicit, SELF and inherited), optionally for one user."""
    views = [AceView(mailbox.name, SELF_PRINCIPAL, ("FullAccess", "ReadPermission"),
                     False, False, "All")]
    for ace in mailbox.aces:
        views.append(AceView(
            mailbox.name, principal_name(tenant, ace.trustee_id, ace.principal),
            tuple(ace.rights), ace.inherited, ace.deny, ace.inheritance_type,
        ))
    views.extend(
        AceView(mailbox.name, principal, rights, True, deny, "All")
        for principal, rights, deny in SYSTEM_ENTRIES
    )
    if trustee is not None:
        views = [v for v in views if v.user.casefold() == trustee.casefold()]
    return views


def add_mailbox_permission(
    store: TenantStore,
    tenant: Tenant,
    identity: str,
    user: str,
    rights: Iterable[str],
    *,
    automapping: bool = True,
    inheritance_type: str = "All",
    deny: bool = False,
) -> list[AceView]:
    """Add-MailboxPermission; returns the rows it prints."""
    wanted = _validate(rights, MAILBOX_RIGHTS, "Microsoft.Exchange.Management.RecipientTasks."
                       "MailboxRights[]")
    (inheritance_type,) = _validate([inheritance_type], INHERITANCE_TYPES,
                                    "System.DirectoryServices.ActiveDirectorySecurityInheritance")
    resolver = store.resolver(tenant)
    mailbox = resolver.mailbox(identity)
    trustee = resolver.security_principal(user)
    existing = next((a for a in mailbox.aces
                     if a.trustee_id == trustee.id and a.deny == deny and not a.inherited), None)
    if existing is not None and all(r in existing.rights for r in wanted):
        raise errors.permission_exists(trustee.upn)
    if existing is None:
        if len(mailbox.aces) + IMPLICIT_ACE_COUNT >= MAX_MAILBOX_ACES:
            raise errors.ace_limit(mailbox.name)
        existing = MailboxAce(rights=[], trustee_id=trustee.id, deny=deny,
                              inheritance_type=inheritance_type, automapping=automapping)
        mailbox.aces.append(existing)
    existing.rights.extend(r for r in wanted if r not in existing.rights)
    return [AceView(mailbox.name, trustee.upn, tuple(wanted), False, deny, inheritance_type)]


def remove_mailbox_permission(
    store: TenantStore,
    tenant: Tenant,
    identity: str,
    user: str,
    rights: Iterable[str],
    warn: Warn,
    *,
    deny: bool = False,
) -> None:
    wanted = _validate(rights, MAILBOX_RIGHTS, "Microsoft.Exchange.Management.RecipientTasks."
                       "MailboxRights[]")
    resolver = store.resolver(tenant)
    mailbox = resolver.mailbox(identity)
    trustee, raw = _principal_for_removal(store, tenant, user)
    for ace in list(mailbox.aces):
        if (ace.deny == deny and not ace.inherited and _matches(tenant, ace, trustee, raw)
                and any(r in ace.rights for r in wanted)):
            ace.rights = [r for r in ace.rights if r not in wanted]
            if not ace.rights:
                mailbox.aces.remove(ace)
            return
    account = principal_name(tenant, trustee, raw)
    warn(errors.ace_missing_warning(distinguished_name(tenant, mailbox.name), account))


def _principal_for_removal(store: TenantStore, tenant: Tenant, user: str) -> tuple[str | None, str]:
    """A removal may name a live user, SELF, or an orphaned SID left by a deleted user."""
    if ORPHAN_SID.match(user) or user.casefold() == SELF_PRINCIPAL.casefold():
        return None, user
    return store.resolver(tenant).security_principal(user).id, ""


# ---------------------------------------------------------------------- SendAs


def recipient_aces(
    tenant: Tenant, mailbox: Mailbox, trustee: str | None = None,
    rights: Iterable[str] | None = None,
) -> list[RecipientAceView]:
    views = [RecipientAceView(mailbox.name, SELF_PRINCIPAL, "Allow", ("SendAs",), False, "None")]
    views.extend(
        RecipientAceView(mailbox.name, principal_name(tenant, ace.trustee_id, ace.principal),
                         ace.access_control_type, tuple(ace.rights), ace.inherited,
                         ace.inheritance_type)
        for ace in mailbox.recipient_aces
    )
    if trustee is not None:
        views = [v for v in views if v.trustee.casefold() == trustee.casefold()]
    if rights is not None:
        wanted = _validate(rights, RECIPIENT_RIGHTS, "Microsoft.Exchange.Management."
                           "RecipientTasks.RecipientAccessRight")
        views = [v for v in views if any(r in v.rights for r in wanted)]
    return views


def add_recipient_permission(
    store: TenantStore, tenant: Tenant, identity: str, trustee_name: str,
    rights: Iterable[str], warn: Warn,
) -> list[RecipientAceView]:
    wanted = _validate(rights, RECIPIENT_RIGHTS,
                       "Microsoft.Exchange.Management.RecipientTasks.RecipientAccessRight")
    resolver = store.resolver(tenant)
    mailbox = resolver.mailbox(identity)
    trustee = resolver.security_principal(trustee_name)
    existing = next((a for a in mailbox.recipient_aces
                     if a.trustee_id == trustee.id and a.access_control_type == "Allow"), None)
    if existing is not None and all(r in existing.rights for r in wanted):
        warn(errors.ace_present_warning(mailbox.name, trustee.upn))
        return []
    if existing is None:
        existing = RecipientAce(rights=[], trustee_id=trustee.id)
        mailbox.recipient_aces.append(existing)
    existing.rights.extend(r for r in wanted if r not in existing.rights)
    return [RecipientAceView(mailbox.name, trustee.upn, "Allow", tuple(wanted), False, "None")]


def remove_recipient_permission(
    store: TenantStore, tenant: Tenant, identity: str, trustee_name: str,
    rights: Iterable[str], warn: Warn,
) -> None:
    wanted = _validate(rights, RECIPIENT_RIGHTS,
                       "Microsoft.Exchange.Management.RecipientTasks.RecipientAccessRight")
    mailbox = store.resolver(tenant).mailbox(identity)
    trustee, raw = _principal_for_removal(store, tenant, trustee_name)
    for ace in list(mailbox.recipient_aces):
        if _matches(tenant, ace, trustee, raw) and any(r in ace.rights for r in wanted):
            ace.rights = [r for r in ace.rights if r not in wanted]
            if not ace.rights:
                mailbox.recipient_aces.remove(ace)
            return
    account = principal_name(tenant, trustee, raw)
    warn(errors.ace_missing_warning(distinguished_name(tenant, mailbox.name), account))
