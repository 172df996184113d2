"""IMAP migrations: endpoints, batches validated from CSVData, users moving through states.

Time is "service seconds": the store scales wall-clock time by ``--migration-speed``
before calling :func:`.migration_sync.advance`, so a test can finish a migration in a
fraction of a second. A started user goes Queued -> Provisioning (target mailbox checked)
-> Syncing (IMAP logon checked, items copied at :data:`ITEMS_PER_SECOND`) -> Synced, then
re-syncs about once a day (IncrementalSyncing -> Synced) until its batch is removed. IMAP
batches have no completion step. Items already imported into the mailbox from the same
source account are not copied again, so a re-run only moves new mail. Items over 35 MB and
beyond 500,000 per mailbox are skipped. Items are counted per source folder
(:mod:`.imap_folders`): from Gmail, a message in two included folders is copied twice.

This module holds the endpoints, batches and users and the service's pace and limits; the
CSVData rules are in :mod:`.migration_csv`, the users' movement over time in
:mod:`.migration_sync`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolkit.sandbox.tenant import errors
from toolkit.sandbox.tenant.migration_csv import CsvRow, parse_csv
from toolkit.sandbox.tenant.model import (
    ImapSource,
    MigrationBatch,
    MigrationEndpoint,
    MigrationUser,
    Tenant,
)

if TYPE_CHECKING:
    from toolkit.sandbox.tenant.store import TenantStore

QUEUED_S = 30.0
PROVISIONING_S = 30.0
ITEMS_PER_SECOND = 4.0
INCREMENTAL_INTERVAL_S = 24 * 3600.0
INCREMENTAL_S = 30.0
REMOVING_S = 30.0

MAX_BATCH_NAME = 64
MAX_ITEMS_PER_MAILBOX = 500_000  # items beyond this are skipped
SECURITY_VALUES = ("None", "Ssl", "Tls")

ACTIVE = ("Queued", "Provisioning", "Syncing", "IncrementalSyncing")
STATUS_SUMMARY = {
    "Queued": "Active",
    "Provisioning": "Active",
    "Syncing": "Active",
    "IncrementalSyncing": "Active",
    "Synced": "Synced",
    "Failed": "Failed",
    "Stopped": "Stopped",
    "Removing": "Active",
}


# ---------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class ServerTest:
    """The outcome of Test-MigrationServerAvailability."""

    ok: bool
    message: str
    error_detail: str = ""


def imap_source(tenant: Tenant, host: str) -> ImapSource | None:
    folded = host.strip().casefold()
    return next((s for s in tenant.imap_sources if s.host.casefold() == folded), None)


def _canonical_security(value: str) -> str:
    by_fold = {v.casefold(): v for v in SECURITY_VALUES}
    canonical = by_fold.get(str(value).casefold())
    if canonical is None:
        raise errors.invalid_argument(
            f'Cannot convert value "{value}" to type "Microsoft.Exchange.Data.'
            f'IMAPSecurityMechanism". Specify one of: {", ".join(SECURITY_VALUES)}'
        )
    return canonical


def test_server(tenant: Tenant, host: str, port: int, security: str) -> ServerTest:
    security = _canonical_security(security)
    source = imap_source(tenant, host)
    failure = f"The connection to the server '{host}' could not be completed."
    if source is None:
        return ServerTest(False, failure, "Microsoft.Exchange.Migration."
                          "MigrationServerConnectionFailedException: " + failure +
                          f" --> No such host is known ({host}).")
    if int(port) != source.port or security != source.security:
        return ServerTest(False, failure, "Microsoft.Exchange.Migration."
                          "MigrationServerConnectionFailedException: " + failure +
                          f" --> The server didn't answer an IMAP {security} session on "
                          f"port {port}.")
    return ServerTest(True, "")


def find_endpoint(tenant: Tenant, identity: str) -> MigrationEndpoint:
    folded = identity.strip().casefold()
    for endpoint in tenant.endpoints.values():
        if endpoint.name.casefold() == folded or endpoint.guid == folded:
            return endpoint
    raise errors.not_found(identity)


def new_endpoint(
    store: TenantStore,
    tenant: Tenant,
    name: str,
    remote_server: str,
    port: int,
    security: str = "Ssl",
    *,
    authentication: str = "Basic",
    max_concurrent_migrations: int = 20,
    max_concurrent_incremental_syncs: int = 10,
    skip_verification: bool = False,
) -> MigrationEndpoint:
    if any(e.name.casefold() == name.casefold() for e in tenant.endpoints.values()):
        raise errors.migration(
            f"The migration endpoint \"{name}\" already exists.",
            "MigrationEndpointDuplicateException",
        )
    security = _canonical_security(security)
    if not skip_verification:
        outcome = test_server(tenant, remote_server, port, security)
        if not outcome.ok:
            raise errors.migration(outcome.message, "MigrationServerConnectionFailedException")
    endpoint = MigrationEndpoint(
        name=name,
        guid=store.new_guid(),
        remote_server=remote_server,
        port=int(port),
        security=security,
        authentication=authentication,
        max_concurrent_migrations=max_concurrent_migrations,
        max_concurrent_incremental_syncs=max_concurrent_incremental_syncs,
        created=store.now(),
    )
    tenant.endpoints[name] = endpoint
    return endpoint


ENDPOINT_FIELDS = {
    "RemoteServer": "remote_server",
    "Port": "port",
    "Security": "security",
    "Authentication": "authentication",
    "MaxConcurrentMigrations": "max_concurrent_migrations",
    "MaxConcurrentIncrementalSyncs": "max_concurrent_incremental_syncs",
}


def set_endpoint(tenant: Tenant, identity: str, changes: dict[str, object],
                 skip_verification: bool = False) -> None:
    endpoint = find_endpoint(tenant, identity)
    unknown = [k for k in changes if k not in ENDPOINT_FIELDS]
    if unknown:
        raise errors.invalid_argument(
            f"The sandbox doesn't emulate Set-MigrationEndpoint -{unknown[0]}.")
    updates = {ENDPOINT_FIELDS[k]: v for k, v in changes.items()}
    if "security" in updates:
        updates["security"] = _canonical_security(str(updates["security"]))
    host = str(updates.get("remote_server", endpoint.remote_server))
    port = int(str(updates.get("port", endpoint.port)))
    security = str(updates.get("security", endpoint.security))
    if not skip_verification and {"remote_server", "port", "security"} & updates.keys():
        outcome = test_server(tenant, host, port, security)
        if not outcome.ok:
            raise errors.migration(outcome.message, "MigrationServerConnectionFailedException")
    for attribute, value in updates.items():
        setattr(endpoint, attribute, int(str(value)) if attribute.startswith(("port", "max"))
                else value)


def remove_endpoint(tenant: Tenant, identity: str) -> None:
    endpoint = find_endpoint(tenant, identity)
    for batch in tenant.batches.values():
        if batch.endpoint == endpoint.name:
            raise errors.migration(
                f"The migration endpoint \"{endpoint.name}\" can't be removed because it's "
                f"being used by migration batch \"{batch.name}\".",
                "MigrationEndpointInUseException",
            )
    del tenant.endpoints[endpoint.name]


# ---------------------------------------------------------------------- batches


def find_batch(tenant: Tenant, identity: str) -> MigrationBatch:
    folded = identity.strip().casefold()
    for batch in tenant.batches.values():
        if batch.name.casefold() == folded or batch.guid == folded:
            return batch
    raise errors.not_found(identity)


def new_batch(
    store: TenantStore,
    tenant: Tenant,
    name: str,
    source_endpoint: str | None,
    csv_data: bytes,
    *,
    auto_start: bool = False,
    exclude_folders: Iterable[str] = (),
    notification_emails: Iterable[str] = (),
    allow_unknown_columns: bool = False,
) -> MigrationBatch:
    if len(name) > MAX_BATCH_NAME:
        raise errors.property_too_long(MAX_BATCH_NAME, len(name))
    if any(b.name.casefold() == name.casefold() for b in tenant.batches.values()):
        raise errors.migration(
            f"A migration batch with the name \"{name}\" already exists. Choose a different "
            "name.", "MigrationBatchDuplicateException",
        )
    if source_endpoint is None:
        raise errors.task_argument(
            "An IMAP migration batch needs -SourceEndpoint naming an IMAP migration endpoint. "
            "The sandbox emulates IMAP batches only."
        )
    endpoint = find_endpoint(tenant, source_endpoint)
    rows = parse_csv(csv_data, allow_unknown_columns)
    busy = {u.email.casefold(): u.batch for u in tenant.migration_users.values()}
    for row in rows:
        if row.email.casefold() in busy:
            raise errors.migration(
                f"The user \"{row.email}\" already exists in migration batch "
                f"\"{busy[row.email.casefold()]}\". Remove the user from that batch first.",
                "MigrationUserAlreadyExistsException",
            )
    batch = MigrationBatch(
        name=name,
        guid=store.new_guid(),
        endpoint=endpoint.name,
        created=store.now(),
        exclude_folders=list(exclude_folders),
        notification_emails=list(notification_emails),
    )
    for row in rows:
        user = MigrationUser(
            guid=store.new_guid(),
            email=row.email,
            batch=name,
            username=row.username,
            password=row.password,
            user_root=row.user_root,
        )
        tenant.migration_users[user.guid] = user
        batch.user_guids.append(user.guid)
    tenant.batches[name] = batch
    if auto_start:
        start_batch(store, tenant, name)
    return batch


def batch_users(tenant: Tenant, batch: MigrationBatch) -> list[MigrationUser]:
    return [tenant.migration_users[g] for g in batch.user_guids if g in tenant.migration_users]


def batch_status(tenant: Tenant, batch: MigrationBatch) -> str:
    if batch.state in ("Created", "Stopped", "Removing"):
        return batch.state
    statuses = [u.status for u in batch_users(tenant, batch)]
    if any(s in ACTIVE for s in statuses):
        return "Syncing"
    if statuses and all(s == "Failed" for s in statuses):
        return "Failed"
    if any(s == "Failed" for s in statuses):
        return "SyncedWithErrors"
    return "Synced"


def start_batch(store: TenantStore, tenant: Tenant, identity: str) -> None:
    batch = find_batch(tenant, identity)
    status = batch_status(tenant, batch)
    if status in ("Syncing", "Removing"):
        raise errors.migration(
            f"The migration batch \"{batch.name}\" can't be started because its status is "
            f"{status}.", "MigrationBatchCannotBeStartedException",
        )
    batch.state = "Started"
    batch.started = batch.started or store.now()
    for user in batch_users(tenant, batch):  # users that synced keep their daily re-sync
        if user.status in ("Queued", "Stopped", "Failed"):
            user.status, user.phase_elapsed, user.error = "Queued", 0.0, ""


def stop_batch(tenant: Tenant, identity: str) -> None:
    batch = find_batch(tenant, identity)
    status = batch_status(tenant, batch)
    if status in ("Created", "Stopped", "Removing"):
        raise errors.migration(
            f"The migration batch \"{batch.name}\" can't be stopped because its status is "
            f"{status}.", "MigrationBatchCannotBeStoppedException",
        )
    batch.state = "Stopped"
    endpoint = tenant.endpoints.get(batch.endpoint)
    for user in batch_users(tenant, batch):
        if user.status == "Syncing":
            record_imported(tenant, endpoint, user)
        if user.status != "Failed":
            user.status, user.phase_elapsed = "Stopped", 0.0


def complete_batch(tenant: Tenant, identity: str) -> None:
    batch = find_batch(tenant, identity)
    raise errors.migration(
        f"The migration batch \"{batch.name}\" can't be completed: IMAP migration batches "
        "have no completion step. They keep re-syncing about once a day until you remove "
        "them with Remove-MigrationBatch.",
        "MigrationBatchCannotBeCompletedException",
    )


def remove_batch(tenant: Tenant, identity: str) -> None:
    batch = find_batch(tenant, identity)
    if batch.state == "Removing":
        return
    batch.state = "Removing"
    batch.removing_elapsed = 0.0
    for user in batch_users(tenant, batch):
        user.status = "Removing"


def set_batch(tenant: Tenant, identity: str, notification_emails: list[str] | None,
              csv_data: bytes | None = None, allow_unknown_columns: bool = False) -> None:
    """``-CSVData`` re-submits rows of users already in the batch (corrected credentials,
    say): every row is checked before any user changes; the users take the new values at
    their next sync, and Start-MigrationBatch retries the failed ones."""
    batch = find_batch(tenant, identity)
    if csv_data is not None:
        _update_users(tenant, batch, parse_csv(csv_data, allow_unknown_columns))
    if notification_emails is not None:
        batch.notification_emails = list(notification_emails)


def _update_users(tenant: Tenant, batch: MigrationBatch, rows: list[CsvRow]) -> None:
    members = {u.email.casefold(): u for u in batch_users(tenant, batch)}
    stranger = next((r for r in rows if r.email.casefold() not in members), None)
    if stranger is not None:
        raise errors.migration(
            f"Line {stranger.line} of the CSV data: the user \"{stranger.email}\" isn't in "
            f"migration batch \"{batch.name}\". Use -AddUsers to add users to the batch.",
            "MigrationUserNotFoundException",
        )
    for row in rows:
        user = members[row.email.casefold()]
        user.username, user.password, user.user_root = row.username, row.password, row.user_root


# ---------------------------------------------------------------------- users


def find_users(
    tenant: Tenant,
    identity: str | None = None,
    batch: str | None = None,
    status: str | None = None,
) -> list[MigrationUser]:
    users = list(tenant.migration_users.values())
    if identity is not None:
        folded = identity.strip().casefold()
        users = [u for u in users if u.email.casefold() == folded or u.guid == folded]
        if not users:
            raise errors.not_found(identity)
    if batch is not None:
        name = find_batch(tenant, batch).name
        users = [u for u in users if u.batch == name]
    if status is not None:
        users = [u for u in users if u.status.casefold() == status.casefold()]
    return users


def remove_user(tenant: Tenant, identity: str) -> None:
    (user,) = find_users(tenant, identity)
    batch = tenant.batches.get(user.batch)
    if batch is not None and user.guid in batch.user_guids:
        batch.user_guids.remove(user.guid)
    del tenant.migration_users[user.guid]


def percentage_complete(user: MigrationUser) -> int:
    if user.status in ("Synced", "IncrementalSyncing"):
        return 95
    if user.status != "Syncing" or user.items_total == 0:
        return {"Queued": 0, "Provisioning": 5, "Syncing": 10}.get(user.status, 0)
    return 10 + int(80 * user.items_synced / user.items_total)


# ---------------------------------------------------------------------- imported items


def source_key(endpoint: MigrationEndpoint, user: MigrationUser) -> str:
    return f"{endpoint.remote_server.casefold()}|{user.username.casefold()}"


def record_imported(tenant: Tenant, endpoint: MigrationEndpoint | None,
                    user: MigrationUser) -> None:
    """Remember what reached the mailbox, so a later run copies only new items."""
    mailbox = tenant.mailboxes.get(user.mailbox_guid or "")
    if mailbox is not None and endpoint is not None:
        key = source_key(endpoint, user)
        # Folders repeat messages: the distinct share of what was copied so far.
        imported = (user.items_synced * user.distinct_items // user.items_total
                    if user.items_total else 0)
        mailbox.imported_items[key] = mailbox.imported_items.get(key, 0) + imported
