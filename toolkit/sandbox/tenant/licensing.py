"""Licence assignment (Graph) and the mailboxes licences bring.

Assigning a SKU that includes Exchange Online schedules the user's mailbox
``mailbox_delay_s`` seconds later; until then Exchange cmdlets do not find it, as in a
real tenant where provisioning takes minutes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from toolkit.sandbox.tenant import errors, mailboxes
from toolkit.sandbox.tenant.model import Sku, Tenant, User

if TYPE_CHECKING:
    from toolkit.sandbox.tenant.store import TenantStore


def free_units(tenant: Tenant, sku: Sku) -> int:
    return sku.enabled - tenant.consumed_units(sku)


def set_user_license(
    store: TenantStore,
    tenant: Tenant,
    user: User,
    add_sku_ids: Iterable[str],
    remove_sku_ids: Iterable[str],
) -> None:
    """Graph ``Set-MgUserLicense``: validates everything, then applies."""
    to_add: list[Sku] = []
    for sku_id in add_sku_ids:
        sku = tenant.sku_by_id(str(sku_id))
        if sku is None:
            raise errors.graph_bad_request(
                f"License {sku_id} does not correspond to a valid company License."
            )
        to_add.append(sku)
    to_remove: list[Sku] = []
    for sku_id in remove_sku_ids:
        sku = tenant.sku_by_id(str(sku_id))
        if sku is None or sku.sku_id not in user.licenses:
            raise errors.graph_bad_request(
                f"User does not have a corresponding license {sku_id}."
            )
        to_remove.append(sku)
    new = [sku for sku in to_add if sku.sku_id not in user.licenses]
    if new and not user.usage_location:
        raise errors.invalid_usage_location()
    for sku in new:
        if free_units(tenant, sku) <= 0:
            raise errors.no_available_licenses(sku.sku_id)
    _apply(store, tenant, user, new, to_remove)


def _apply(store: TenantStore, tenant: Tenant, user: User, add: list[Sku],
           remove: list[Sku]) -> None:
    removed = {sku.sku_id for sku in remove}
    user.licenses = [s for s in user.licenses if s not in removed]
    user.licenses.extend(sku.sku_id for sku in add)
    if any(sku.includes_exchange for sku in add):
        schedule_mailbox(store, tenant, user)


def has_exchange_licence(tenant: Tenant, user: User) -> bool:
    return any((sku := tenant.sku_by_id(s)) is not None and sku.includes_exchange
               for s in user.licenses)


def schedule_mailbox(store: TenantStore, tenant: Tenant, user: User) -> None:
    if tenant.mailbox_of(user.id) is not None or user.mailbox_due is not None:
        return
    user.mailbox_due = store.now() + store.settings.mailbox_delay_s
    store.due_mailboxes(tenant).add(user.id)
    if store.settings.mailbox_delay_s <= 0:
        mailboxes.provision_mailbox(store, tenant, user)


def provision_due_mailboxes(store: TenantStore, tenant: Tenant, now: float) -> bool:
    """Create the mailboxes whose time has come; True when any was created."""
    created = False
    due = store.due_mailboxes(tenant)
    for user_id in list(due):
        user = tenant.users.get(user_id)
        if user is None or user.mailbox_due is None:
            due.discard(user_id)
        elif user.mailbox_due <= now:
            if tenant.mailbox_of(user.id) is None:
                mailboxes.provision_mailbox(store, tenant, user)
                created = True
            user.mailbox_due = None
            due.discard(user_id)
    return created
