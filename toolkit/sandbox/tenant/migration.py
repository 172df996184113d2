"""IMAP migrations: endpoints, batches validated from CSVData, users moving through states.

Time is "service seconds": the store scales wall-clock time by ``--migration-speed``
before calling :func:`advance`, so a test can finish a migration in a fraction of a
second. A started user goes Queued -> Provisioning (target mailbox checked) -> Syncing
(IMAP logon checked, items copied at :data:`ITEMS_PER_SECOND`) -> Synced, then re-syncs
about once a day (IncrementalSyncing -> Synced) until its batch is removed. IMAP batches
have no completion step. Items already imported into the mailbox from the same source
account are not copied again, so a re-run only moves new mail. Items over 35 MB and beyond
500,000 per mailbox are skipped. Items are counted per source folder
(:mod:`.imap_folders`): from Gmail, a message in two included folders is copied twice.
"""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolkit.sandbox.tenant import errors
from toolkit.sandbox.tenant.imap_folders import copied, source_folders
from toolkit.sandbox.tenant.licensing import has_exchange_licence
from toolkit.sandbox.tenant.model import (
    ImapSource,
    Mailbox,
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

MAX_CSV_ROWS = 50_000
MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_BATCH_NAME = 64
MAX_ITEMS_PER_MAILBOX = 500_000  # items beyond this are skipped
REQUIRED_COLUMNS = ("EmailAddress", "UserName", "Password")
OPTIONAL_COLUMNS = ("UserRoot",)
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

AUTH_FAILED = (
    "ImapAuthenticationException: Couldn't log on to the IMAP server using the specified "
    "credentials. Verify the user name and password and try again. --> The IMAP server "
    "returned an error: [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
)


# ---------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class ServerTest:
    """The outcome of Test-MigrationServerAvailability."""

    ok: bool
    message: str
    error_detail: str = ""


def _source(tenant: Tenant, host: str) -> ImapSource | None:
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
    source = _source(tenant, host)
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


# ---------------------------------------------------------------------- CSV


@dataclass(frozen=True)
class CsvRow:
    line: int
    email: str
    username: str
    password: str
    user_root: str


def parse_csv(data: bytes, allow_unknown_columns: bool = False) -> list[CsvRow]:
    """Validate CSVData as Exchange Online does for an IMAP batch."""
    if len(data) > MAX_CSV_BYTES:
        raise errors.migration(
            f"The CSV data is {len(data):,} bytes; the maximum for a migration batch is "
            "10 MB. Split the users into smaller batches.",
            "MigrationCSVTooLargeException",
        )
    text = _decode(data)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise errors.migration("The CSV data is empty. It must start with the header line "
                               "EmailAddress,UserName,Password.", "MigrationCSVParsingException")
    columns = [cell.strip() for cell in header]
    by_fold = {c.casefold(): c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
    for column in REQUIRED_COLUMNS:
        if column.casefold() not in {c.casefold() for c in columns}:
            raise errors.migration(
                f"The CSV data doesn't contain the required column \"{column}\". An IMAP "
                "migration needs the columns EmailAddress, UserName and Password "
                "(UserRoot is optional).",
                "MigrationCSVMissingColumnException",
            )
    unknown = [c for c in columns if c.casefold() not in by_fold]
    if unknown and not allow_unknown_columns:
        raise errors.migration(
            f"The CSV data contains the unknown column \"{unknown[0]}\". Remove it, or pass "
            "-AllowUnknownColumnsInCsv $true to ignore it.",
            "MigrationCSVUnknownColumnException",
        )
    index = {c.casefold(): i for i, c in enumerate(columns)}
    rows: list[CsvRow] = []
    seen: dict[str, int] = {}
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        line = reader.line_num

        def cell(name: str, record: list[str] = record) -> str:
            position = index.get(name.casefold())
            return record[position].strip() if position is not None and position < len(
                record) else ""

        email, username = cell("EmailAddress"), cell("UserName")
        password = record[index["password"]] if index["password"] < len(record) else ""
        for column, value in (("EmailAddress", email), ("UserName", username),
                              ("Password", password)):
            if not value:
                raise errors.migration(
                    f"Line {line} of the CSV data has no value in the column \"{column}\".",
                    "MigrationCSVParsingException",
                )
        if "@" not in email:
            raise errors.migration(
                f"Line {line} of the CSV data: \"{email}\" isn't a valid email address.",
                "MigrationCSVParsingException",
            )
        folded = email.casefold()
        if folded in seen:
            raise errors.migration(
                f"The CSV data contains a duplicate entry for \"{email}\" on line {line} "
                f"(first on line {seen[folded]}). Each EmailAddress can appear only once.",
                "MigrationCSVDuplicateEntryException",
            )
        seen[folded] = line
        rows.append(CsvRow(line, email, username, password, cell("UserRoot")))
        if len(rows) > MAX_CSV_ROWS:
            raise errors.migration(
                "The CSV data contains more than 50,000 rows, the maximum for a migration "
                "batch. Split the users into smaller batches.",
                "MigrationCSVTooManyRowsException",
            )
    if not rows:
        raise errors.migration("The CSV data contains no users.", "MigrationCSVParsingException")
    return rows


def csv_addresses(data: bytes) -> list[str] | None:
    """The EmailAddress column of CSV data (None without one), for the command log."""
    reader = csv.reader(io.StringIO(_decode(data)))
    header = [cell.strip().casefold() for cell in next(reader, [])]
    if "emailaddress" not in header:
        return None
    column = header.index("emailaddress")
    return [record[column].strip() for record in reader
            if len(record) > column and record[column].strip()]


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.migration(
            "The CSV data isn't valid text; save it as UTF-8 or Unicode.",
            "MigrationCSVParsingException",
        ) from exc


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
            _record_imported(tenant, endpoint, user)
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


# ---------------------------------------------------------------------- time


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


def _source_key(endpoint: MigrationEndpoint, user: MigrationUser) -> str:
    return f"{endpoint.remote_server.casefold()}|{user.username.casefold()}"


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
    source = _source(tenant, endpoint.remote_server) if endpoint else None
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
    already = mailbox.imported_items.get(_source_key(endpoint, user), 0)
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
    _record_imported(tenant, endpoint, user)
    _finish_sync(user, store)
    return needed


def _record_imported(tenant: Tenant, endpoint: MigrationEndpoint | None,
                     user: MigrationUser) -> None:
    """Remember what reached the mailbox, so a later run copies only new items."""
    mailbox = tenant.mailboxes.get(user.mailbox_guid or "")
    if mailbox is not None and endpoint is not None:
        key = _source_key(endpoint, user)
        # Folders repeat messages: the distinct share of what was copied so far.
        imported = (user.items_synced * user.distinct_items // user.items_total
                    if user.items_total else 0)
        mailbox.imported_items[key] = mailbox.imported_items.get(key, 0) + imported


def _finish_sync(user: MigrationUser, store: TenantStore) -> None:
    _enter(user, "Synced")
    user.last_successful_sync = store.now()
    user.next_incremental = INCREMENTAL_INTERVAL_S
