"""Users of started migration batches moving through their states as service time passes
(:func:`advance`, which the store calls): queue waits and ``MaxConcurrentMigrations``
slots per endpoint, the provisioning and IMAP logon checks, item copying and the daily
incremental re-sync. Kept apart from :mod:`.migration`, which changes endpoints, batches
and users when a cmdlet runs and holds the pace and limits applied here, because this is
the part that time drives.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from toolkit.sandbox.tenant import errors
from toolkit.sandbox.tenant.imap_folders import copied, source_folders
from toolkit.sandbox.tenant.licensing import has_exchange_licence
from toolkit.sandbox.tenant.migration import (
    INCREMENTAL_INTERVAL_S,
    INCREMENTAL_S,
    ITEMS_PER_SECOND,
    MAX_ITEMS_PER_MAILBOX,
    PROVISIONING_S,
    QUEUED_S,
    REMOVING_S,
    batch_users,
    imap_source,
    record_imported,
    source_key,
)
from toolkit.sandbox.tenant.model import Mailbox, MigrationEndpoint, MigrationUser, Tenant

if TYPE_CHECKING:
    from toolkit.sandbox.tenant.store import TenantStore

AUTH_FAILED = (
    "ImapAuthenticationException: Couldn't log on to the IMAP server using the specified "
    "credentials. Verify the user name and password and try again. --> The IMAP server "
    "returned an error: [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
)


def advance(store: TenantStore, tenant: Tenant, seconds: float) -> bool:
    """Move every started batch on by ``seconds`` service seconds; True on a state change.

    Each endpoint has ``MaxConcurrentMigrations`` slots. Users already provisioning or
    syncing run first and free their slot when they finish; queued users then take slots
    in batch and CSV order, starting when both their queue wait and a free slot allow.
    """
    if seconds <= 0 or not tenant.batches:
        return False
    changed = False
    started: dict[str, list[MigrationUser]] = {}
    for batch in list(tenant.batches.values()):
        if batch.state == "Removing":
            batch.removing_elapsed += seconds
            if batch.removing_elapsed >= REMOVING_S:
                for guid in batch.user_guids:
                    tenant.migration_users.pop(guid, None)
                del tenant.batches[batch.name]
                changed = True
        elif batch.state == "Started":
            started.setdefault(batch.endpoint, []).extend(batch_users(tenant, batch))
    for endpoint_name, users in started.items():
        endpoint = tenant.endpoints.get(endpoint_name)
        changed |= _advance_endpoint(store, tenant, endpoint, users, seconds)
    return changed


MOVING = ("Provisioning", "Syncing")  # what holds one of MaxConcurrentMigrations


def _advance_endpoint(store: TenantStore, tenant: Tenant, endpoint: MigrationEndpoint | None,
                      users: list[MigrationUser], seconds: float) -> bool:
    changed = False
    limit = endpoint.max_concurrent_migrations if endpoint is not None else 0
    holding = sum(1 for u in users if u.status in MOVING)
    free = [0.0] * max(0, limit - holding)  # offsets at which a slot is free
    queued: list[MigrationUser] = []
    for user in users:
        if user.status == "Queued":
            queued.append(user)
            continue
        before = (user.status, user.items_synced)
        released = _run(store, tenant, endpoint, user, seconds)
        if released is not None:
            free.append(released)
        changed |= (user.status, user.items_synced) != before
    heapq.heapify(free)
    for user in queued:
        wait = QUEUED_S - user.phase_elapsed
        slot = free[0] if free else None
        if slot is None or max(wait, slot) >= seconds:
            user.phase_elapsed = min(QUEUED_S, user.phase_elapsed + seconds)
            continue
        heapq.heappop(free)
        start = max(wait, slot)
        _enter(user, "Provisioning")
        released = _run(store, tenant, endpoint, user, seconds - start)
        if released is not None:
            heapq.heappush(free, start + released)
        changed = True
    return changed


def _target(store: TenantStore, tenant: Tenant, email: str) -> Mailbox | None:
    try:
        return store.resolver(tenant).mailbox(email)
    except errors.TenantError:
        return None


def _run(store: TenantStore, tenant: Tenant, endpoint: MigrationEndpoint | None,
         user: MigrationUser, seconds: float) -> float | None:
    """Advance a user that is not queued; the offset at which it gave its slot back, if it
    held one and finished (or failed) within ``seconds``."""
    elapsed = 0.0
    while elapsed < seconds:
        remaining = seconds - elapsed
        status = user.status
        if status == "Provisioning":
            step = min(remaining, PROVISIONING_S - user.phase_elapsed)
            user.phase_elapsed += step
            elapsed += step
            if user.phase_elapsed < PROVISIONING_S:
                break
            _begin_sync(store, tenant, endpoint, user)
        elif status in ("Syncing", "IncrementalSyncing"):
            elapsed += _sync(tenant, endpoint, user, remaining, store)
        elif status == "Synced":
            assert user.next_incremental is not None
            step = min(remaining, user.next_incremental)
            user.next_incremental -= step
            elapsed += step
            if user.next_incremental > 0:
                break
            _enter(user, "IncrementalSyncing")
        else:  # Failed, Stopped, Removing: nothing moves
            break
        if status in MOVING and user.status not in MOVING:
            return elapsed
    return None


def _enter(user: MigrationUser, status: str) -> None:
    user.status, user.phase_elapsed = status, 0.0


def _begin_sync(store: TenantStore, tenant: Tenant, endpoint: MigrationEndpoint | None,
                user: MigrationUser) -> None:
    mailbox = _target(store, tenant, user.email)
    if mailbox is None:
        user.status = "Failed"
        user.error = (
            f"MigrationRecipientNotFoundException: A recipient wasn't found for "
            f"\"{user.email}\" on the target. Create a mailbox with this email address, "
            "assign it a licence, and try again."
        )
        return
    owner = tenant.users.get(mailbox.user_id)
    if mailbox.recipient_type_details == "UserMailbox" and (
        owner is None or not has_exchange_licence(tenant, owner)
    ):
        user.status = "Failed"
        user.error = (
            f"MigrationPermanentException: The mailbox \"{user.email}\" doesn't have an "
            "Exchange Online licence. Assign a licence and start the batch again."
        )
        return
    source = imap_source(tenant, endpoint.remote_server) if endpoint else None
    account = source.account(user.username) if source else None
    if source is None or endpoint is None:
        user.status = "Failed"
        user.error = (
            "MigrationServerConnectionFailedException: The connection to the server "
            f"'{endpoint.remote_server if endpoint else '?'}' could not be completed."
        )
        return
    if account is None or account.password != user.password:
        user.status = "Failed"
        user.error = AUTH_FAILED
        return
    user.mailbox_guid = mailbox.guid
    already = mailbox.imported_items.get(source_key(endpoint, user), 0)
    movable = max(0, min(account.items - account.large_items, MAX_ITEMS_PER_MAILBOX) - already)
    batch = tenant.batches.get(user.batch)
    folders = source_folders(endpoint.remote_server, movable, account.folder_root,
                             account.archived)
    user.items_total = copied(folders, batch.exclude_folders if batch else ())
    user.distinct_items = movable
    user.items_skipped = account.large_items + max(0, account.items - MAX_ITEMS_PER_MAILBOX)
    user.items_synced = 0
    _enter(user, "Syncing")


def _sync(tenant: Tenant, endpoint: MigrationEndpoint | None, user: MigrationUser,
          seconds: float, store: TenantStore) -> float:
    """Copy items for up to ``seconds``; the time it took (less when the sync finished)."""
    if user.status == "IncrementalSyncing":
        step = min(seconds, INCREMENTAL_S - user.phase_elapsed)
        user.phase_elapsed += step
        if user.phase_elapsed >= INCREMENTAL_S:
            _finish_sync(user, store)
        return step
    needed = max(0.0, user.items_total / ITEMS_PER_SECOND - user.phase_elapsed)
    if seconds < needed:
        user.phase_elapsed += seconds
        user.items_synced = min(user.items_total, int(user.phase_elapsed * ITEMS_PER_SECOND))
        return seconds
    user.phase_elapsed += needed
    user.items_synced = user.items_total
    record_imported(tenant, endpoint, user)
    _finish_sync(user, store)
    return needed


def _finish_sync(user: MigrationUser, store: TenantStore) -> None:
    _enter(user, "Synced")
    user.last_successful_sync = store.now()
    user.next_incremental = INCREMENTAL_INTERVAL_S
