"""Emulated Exchange Online cmdlets: recipients, permissions, CAS settings, migrations.

Each function is a thin adapter from bound parameters to the operations in
:mod:`~toolkit.sandbox.tenant.permissions`, :mod:`~toolkit.sandbox.tenant.mailboxes` and
:mod:`~toolkit.sandbox.tenant.migration`, and from the model to output objects.
"""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Callable
from typing import Any

from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.tenant import errors, filters, mailboxes, migration, objects, permissions
from toolkit.sandbox.tenant.cmdlet_support import (
    EXCHANGE,
    Call,
    Impl,
    TenantServices,
    limit_results,
    multi_value_edit,
    register,
)
from toolkit.sandbox.tenant.identity_resolution import ORPHAN_SID
from toolkit.sandbox.tenant.model import Group, Mailbox, User
from toolkit.sandbox.values import PSObject

READ_ONLY = "read"
CHANGES = "write"
ADMIN_READ = "admin-read"  # changes nothing, but RBAC keeps it from the helpdesk


def register_exchange(registry: CmdletRegistry, services: TenantServices) -> None:
    table: list[tuple[str, Impl, str]] = [
        ("Get-Mailbox", get_mailbox, READ_ONLY),
        ("Get-EXOMailbox", get_exo_mailbox, READ_ONLY),
        ("Set-Mailbox", set_mailbox, CHANGES),
        ("New-Mailbox", new_mailbox, CHANGES),
        ("Get-Recipient", get_recipient, READ_ONLY),
        ("Get-EXORecipient", get_recipient, READ_ONLY),
        ("Get-User", get_user, READ_ONLY),
        ("Get-MailboxStatistics", get_mailbox_statistics, READ_ONLY),
        ("Get-EXOMailboxStatistics", get_mailbox_statistics, READ_ONLY),
        ("Get-OrganizationConfig", get_organization_config, READ_ONLY),
        ("Add-MailboxPermission", add_mailbox_permission, CHANGES),
        ("Remove-MailboxPermission", remove_mailbox_permission, CHANGES),
        ("Get-MailboxPermission", get_mailbox_permission, READ_ONLY),
        ("Get-EXOMailboxPermission", get_mailbox_permission, READ_ONLY),
        ("Add-RecipientPermission", add_recipient_permission, CHANGES),
        ("Remove-RecipientPermission", remove_recipient_permission, CHANGES),
        ("Get-RecipientPermission", get_recipient_permission, READ_ONLY),
        ("Get-EXORecipientPermission", get_recipient_permission, READ_ONLY),
        ("Get-CASMailbox", get_cas_mailbox, READ_ONLY),
        ("Get-EXOCasMailbox", get_cas_mailbox, READ_ONLY),
        ("Set-CASMailbox", set_cas_mailbox, CHANGES),
        ("Get-AcceptedDomain", get_accepted_domain, READ_ONLY),
        ("Test-MigrationServerAvailability", test_migration_server, ADMIN_READ),
        ("New-MigrationEndpoint", new_migration_endpoint, CHANGES),
        ("Get-MigrationEndpoint", get_migration_endpoint, READ_ONLY),
        ("Set-MigrationEndpoint", set_migration_endpoint, CHANGES),
        ("Remove-MigrationEndpoint", remove_migration_endpoint, CHANGES),
        ("New-MigrationBatch", new_migration_batch, CHANGES),
        ("Get-MigrationBatch", get_migration_batch, READ_ONLY),
        ("Set-MigrationBatch", set_migration_batch, CHANGES),
        ("Start-MigrationBatch", start_migration_batch, CHANGES),
        ("Stop-MigrationBatch", stop_migration_batch, CHANGES),
        ("Complete-MigrationBatch", complete_migration_batch, CHANGES),
        ("Remove-MigrationBatch", remove_migration_batch, CHANGES),
        ("Get-MigrationUser", get_migration_user, READ_ONLY),
        ("Remove-MigrationUser", remove_migration_user, CHANGES),
        ("Get-MigrationUserStatistics", get_migration_user_statistics, READ_ONLY),
    ]
    for name, impl, kind in table:
        register(registry, services, name, impl, service=EXCHANGE, writes=kind == CHANGES,
                 helpdesk=kind == READ_ONLY)


# ---------------------------------------------------------------------- shared


def _identity(call: Call) -> str | None:
    """``-Identity`` or the EXO cmdlets' alternative identity parameters."""
    for name in ("Identity", "UserPrincipalName", "PrimarySmtpAddress",
                 "ExternalDirectoryObjectId"):
        value = call.text(name)
        if value:
            return value
    return None


def _mailboxes(call: Call, identity: str | None) -> list[Mailbox]:
    """One mailbox by identity, the wildcard matches, or all of them."""
    if identity is None:
        return list(call.tenant.mailboxes.values())
    if "*" in identity:
        pattern = identity.casefold()
        return [m for m in call.tenant.mailboxes.values()
                if any(fnmatch.fnmatchcase(v.casefold(), pattern)
                       for v in (m.name, m.alias, m.display_name, m.primary_smtp))]
    return [call.resolver.mailbox(identity)]


def _anr(call: Call, boxes: list[Mailbox]) -> list[Mailbox]:
    text = call.text("Anr")
    if not text:
        return boxes
    prefix = text.casefold()
    return [m for m in boxes
            if any(v.casefold().startswith(prefix) for v in (
                m.name, m.alias, m.display_name, m.primary_smtp,
                call.tenant.users[m.user_id].given_name, call.tenant.users[m.user_id].surname))]


def _select(call: Call, items: list[Any], build: Callable[[Any], PSObject],
            type_filter: str = "RecipientTypeDetails",
            computed: filters.Computed | None = None) -> list[PSObject]:
    """Build, then apply -RecipientTypeDetails, -Filter and -ResultSize."""
    built = [build(item) for item in items]
    kinds = {k.casefold() for k in call.strings(type_filter)}
    if kinds:
        built = [b for b in built if str(b.get(type_filter, "")).casefold() in kinds]
    text = call.text("Filter")
    if text:
        predicate = filters.opath(text, computed)
        built = [b for b in built if predicate(b)]
    return limit_results(call, built)


# ---------------------------------------------------------------------- recipients


def get_mailbox(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Anr", "Filter", "RecipientTypeDetails",
                             "ResultSize", "SortBy"})
    boxes = _anr(call, _mailboxes(call, _identity(call)))
    return _select(call, boxes, lambda m: objects.mailbox(call.tenant, m))


def get_exo_mailbox(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Anr", "Filter", "RecipientTypeDetails",
                             "ResultSize", "Properties", "PropertySets", "UserPrincipalName",
                             "PrimarySmtpAddress", "ExternalDirectoryObjectId"})
    boxes = _anr(call, _mailboxes(call, _identity(call)))
    full = _select(call, boxes, lambda m: objects.mailbox(call.tenant, m))
    wanted = [*objects.EXO_MINIMUM_PROPERTIES, *call.strings("Properties")]
    if any(s.casefold() == "all" for s in call.strings("PropertySets")):
        wanted = ["*"]
    return [PSObject(objects.select(o, wanted).properties.items(), objects.EXO_MAILBOX_TYPES)
            for o in full]


def get_recipient(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Anr", "Filter", "RecipientTypeDetails",
                             "RecipientType", "ResultSize", "Properties", "PropertySet",
                             "PropertySets", "UserPrincipalName", "PrimarySmtpAddress",
                             "ExternalDirectoryObjectId", "SortBy"})
    identity = _identity(call)
    tenant = call.tenant
    group = call.resolver.group(identity) if identity and "*" not in identity else None
    if group is not None:
        return _select(call, [group], lambda g: objects.group_recipient(tenant, g),
                       computed=objects.group_filters(tenant))
    boxes: list[Mailbox | Group] = [*_anr(call, _mailboxes(call, identity))]
    if identity is None and not call.text("Anr"):
        boxes += tenant.groups.values()  # groups are recipients too
    built = _select(call, boxes, lambda r: (objects.group_recipient(tenant, r)
                                            if isinstance(r, Group)
                                            else objects.recipient(tenant, r)),
                    computed=objects.group_filters(tenant))
    kinds = {k.casefold() for k in call.strings("RecipientType")}
    return [b for b in built if not kinds or str(b["RecipientType"]).casefold() in kinds]


def get_user(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Anr", "Filter", "RecipientTypeDetails", "ResultSize",
                             "Sortby"})
    identity = call.text("Identity")
    users: list[User] = ([call.resolver.user(identity)] if identity
                         else list(call.tenant.users.values()))
    anr = call.text("Anr")
    if anr:
        users = [u for u in users if any(v.casefold().startswith(anr.casefold()) for v in (
            u.display_name, u.upn, u.given_name, u.surname, u.mail_nickname))]
    return _select(call, users, lambda u: objects.exchange_user(call.tenant, u))


def set_mailbox(call: Call) -> list[Any]:
    identity = call.text("Identity") or ""
    changes: dict[str, Any] = {}
    for key, value in call.params.items():
        if key in ("Identity", "Confirm", "WhatIf", "Force"):
            continue
        if key in ("GrantSendOnBehalfTo", "EmailAddresses"):
            changes[key] = multi_value_edit(value)
        else:
            changes[key] = value
    mailboxes.set_mailbox(call.store, call.tenant, identity, changes, call.warn)
    return []


def new_mailbox(call: Call) -> list[Any]:
    if not call.params.get("Shared"):
        raise errors.invalid_argument(
            "The sandbox emulates New-Mailbox -Shared only; user mailboxes appear when a "
            "licence that includes Exchange Online is assigned.")
    call.reject_unsupported({"Shared", "Name", "DisplayName", "Alias", "PrimarySmtpAddress",
                             "Password"})  # a shared mailbox never signs in: ignored
    box = mailboxes.new_shared_mailbox(
        call.store, call.tenant, call.text("Name") or "",
        alias=call.text("Alias"), display_name=call.text("DisplayName"),
        primary_smtp=call.text("PrimarySmtpAddress"),
    )
    return [objects.mailbox(call.tenant, box)]


def get_mailbox_statistics(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "UserPrincipalName", "PrimarySmtpAddress",
                             "ExchangeGuid", "Properties", "PropertySets"})
    identity = _identity(call) or call.text("ExchangeGuid")
    if identity is None:
        raise errors.invalid_argument("Get-MailboxStatistics needs -Identity.")
    box = call.resolver.mailbox(identity)
    items = sum(box.imported_items.values())
    size = items * 48 * 1024
    return [PSObject(
        [
            ("DisplayName", box.display_name),
            ("ItemCount", items),
            ("DeletedItemCount", 0),
            ("TotalItemSize", f"{size / 1024 / 1024:.3f} MB ({size:,} bytes)"),
            ("LastLogonTime", None),
            ("MailboxGuid", uuid.UUID(box.exchange_guid)),
            ("MailboxTypeDetail", box.recipient_type_details),
            ("Identity", box.exchange_guid),
        ],
        ["Deserialized.Microsoft.Exchange.Management.MapiTasks.Presentation.MailboxStatistics",
         "Deserialized.System.Object"],
    )]


def get_organization_config(call: Call) -> list[Any]:
    return [PSObject(
        [("Name", call.tenant.name), ("DisplayName", call.tenant.display_name),
         ("Identity", call.tenant.name), ("IsDehydrated", False),
         ("Guid", uuid.UUID(call.tenant.id))],
        ["Deserialized.Microsoft.Exchange.Data.Directory.Management.OrganizationConfig",
         "Deserialized.System.Object"],
    )]


# ---------------------------------------------------------------------- permissions


def add_mailbox_permission(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "User", "AccessRights", "AutoMapping",
                             "InheritanceType", "Deny"})
    rows = permissions.add_mailbox_permission(
        call.store, call.tenant, call.text("Identity") or "", call.text("User") or "",
        call.strings("AccessRights"),
        automapping=call.params.get("AutoMapping", True) is not False,
        inheritance_type=call.text("InheritanceType") or "All",
        deny=bool(call.params.get("Deny")),
    )
    return [objects.mailbox_ace(row) for row in rows]


def remove_mailbox_permission(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "User", "AccessRights", "InheritanceType", "Deny",
                             "BypassMasterAccountSid"})
    permissions.remove_mailbox_permission(
        call.store, call.tenant, call.text("Identity") or "", call.text("User") or "",
        call.strings("AccessRights"), call.warn, deny=bool(call.params.get("Deny")),
    )
    return []


def get_mailbox_permission(call: Call) -> list[Any]:
    """Exchange Online's Get-MailboxPermission leaves out the entries whose trustee no longer
    resolves (orphaned SIDs) unless -IncludeUnresolvedPermissions is given (Microsoft Learn,
    Get-MailboxPermission; tests/fidelity/records/behaviour-unresolved-permissions.yaml)."""
    call.reject_unsupported({"Identity", "User", "ResultSize", "UserPrincipalName",
                             "PrimarySmtpAddress", "ExternalDirectoryObjectId",
                             "IncludeUnresolvedPermissions"})
    exo = call.ctx.cmdlet_name.casefold() == "get-exomailboxpermission"
    identity = _identity(call)
    if identity is None and not exo:
        raise errors.invalid_argument("Get-MailboxPermission needs -Identity.")
    trustee = call.text("User")
    if trustee and not trustee.upper().startswith("S-1-5-21") and "\\" not in trustee:
        trustee = call.resolver.security_principal(trustee).upn
    type_names = objects.EXO_ACE_TYPES if exo else None
    rows = [row for box in _mailboxes(call, identity)
            for row in permissions.mailbox_aces(call.tenant, box, trustee)]
    if not exo and not call.params.get("IncludeUnresolvedPermissions"):
        rows = [row for row in rows if not ORPHAN_SID.match(str(row.user))]
    built = [objects.mailbox_ace(r, type_names) if type_names else objects.mailbox_ace(r)
             for r in rows]
    return limit_results(call, built) if exo else built


def add_recipient_permission(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Trustee", "AccessRights"})
    rows = permissions.add_recipient_permission(
        call.store, call.tenant, call.text("Identity") or "", call.text("Trustee") or "",
        call.strings("AccessRights"), call.warn)
    return [objects.recipient_ace(row) for row in rows]


def remove_recipient_permission(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Trustee", "AccessRights", "Deny"})
    permissions.remove_recipient_permission(
        call.store, call.tenant, call.text("Identity") or "", call.text("Trustee") or "",
        call.strings("AccessRights"), call.warn)
    return []


def get_recipient_permission(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Trustee", "AccessRights", "ResultSize",
                             "UserPrincipalName", "PrimarySmtpAddress",
                             "ExternalDirectoryObjectId"})
    exo = call.ctx.cmdlet_name.casefold() == "get-exorecipientpermission"
    trustee = call.text("Trustee")
    if trustee and not trustee.upper().startswith("S-1-5-21") and "\\" not in trustee:
        trustee = call.resolver.security_principal(trustee).upn
    rights = call.strings("AccessRights") or None
    rows = [row for box in _mailboxes(call, _identity(call))
            for row in permissions.recipient_aces(call.tenant, box, trustee, rights)]
    built = [objects.recipient_ace(r, objects.EXO_RECIPIENT_ACE_TYPES) if exo
             else objects.recipient_ace(r) for r in rows]
    return limit_results(call, built)


# ---------------------------------------------------------------------- CAS, domains


def get_cas_mailbox(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Anr", "Filter", "RecipientTypeDetails", "ResultSize",
                             "Properties", "PropertySets", "UserPrincipalName",
                             "PrimarySmtpAddress", "ExternalDirectoryObjectId", "ProtocolSettings",
                             "SortBy"})
    boxes = _anr(call, _mailboxes(call, _identity(call)))
    built = [objects.cas_mailbox(call.tenant, m) for m in boxes]
    text = call.text("Filter")
    if text:
        predicate = filters.opath(text)
        built = [b for b in built if predicate(b)]
    return limit_results(call, built)


def set_cas_mailbox(call: Call) -> list[Any]:
    changes = {k: v for k, v in call.params.items()
               if k not in ("Identity", "Confirm", "WhatIf")}
    mailboxes.set_cas_mailbox(call.store, call.tenant, call.text("Identity") or "", changes,
                              call.warn)
    return []


def get_accepted_domain(call: Call) -> list[Any]:
    domains = [d for d in call.tenant.domains if d.verified]
    identity = call.text("Identity")
    if identity:
        domains = [d for d in domains if d.name.casefold() == identity.casefold()]
        if not domains:
            raise errors.not_found(identity)
    return [objects.accepted_domain(call.tenant, d) for d in domains]


# ---------------------------------------------------------------------- migration


def test_migration_server(call: Call) -> list[Any]:
    if call.has("Endpoint"):
        endpoint = migration.find_endpoint(call.tenant, call.text("Endpoint") or "")
        outcome = migration.test_server(call.tenant, endpoint.remote_server, endpoint.port,
                                        endpoint.security)
        return [objects.server_test(outcome)]
    if not call.params.get("Imap"):
        raise errors.invalid_argument(
            "The sandbox emulates Test-MigrationServerAvailability -Imap and -Endpoint only.")
    call.reject_unsupported({"Imap", "RemoteServer", "Port", "Security", "Authentication",
                             "AcceptUntrustedCertificates"})
    outcome = migration.test_server(call.tenant, call.text("RemoteServer") or "",
                                    int(call.params["Port"]), call.text("Security") or "Ssl")
    return [objects.server_test(outcome)]


def new_migration_endpoint(call: Call) -> list[Any]:
    if not call.params.get("IMAP"):
        raise errors.invalid_argument(
            "The sandbox emulates IMAP migration endpoints only (New-MigrationEndpoint -IMAP).")
    call.reject_unsupported({"IMAP", "Name", "RemoteServer", "Port", "Security",
                             "Authentication", "MaxConcurrentMigrations",
                             "MaxConcurrentIncrementalSyncs", "SkipVerification",
                             "AcceptUntrustedCertificates"})
    endpoint = migration.new_endpoint(
        call.store, call.tenant, call.text("Name") or "", call.text("RemoteServer") or "",
        int(call.params.get("Port") or 993), call.text("Security") or "Ssl",
        authentication=call.text("Authentication") or "Basic",
        max_concurrent_migrations=_count(call.params.get("MaxConcurrentMigrations"), 20),
        max_concurrent_incremental_syncs=_count(
            call.params.get("MaxConcurrentIncrementalSyncs"), 10),
        skip_verification=bool(call.params.get("SkipVerification")),
    )
    return [objects.migration_endpoint(endpoint)]


def _count(value: Any, default: int) -> int:
    if value is None:
        return default
    return 1000 if value == "Unlimited" else int(value)


def get_migration_endpoint(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Type", "DiagnosticInfo"})
    identity = call.text("Identity")
    endpoints = ([migration.find_endpoint(call.tenant, identity)] if identity
                 else list(call.tenant.endpoints.values()))
    kind = call.text("Type")
    if kind:
        endpoints = [e for e in endpoints if e.endpoint_type.casefold() == kind.casefold()]
    return [objects.migration_endpoint(e) for e in endpoints]


def set_migration_endpoint(call: Call) -> list[Any]:
    changes = {k: v for k, v in call.params.items()
               if k not in ("Identity", "Confirm", "WhatIf", "SkipVerification")}
    for key in ("MaxConcurrentMigrations", "MaxConcurrentIncrementalSyncs"):
        if key in changes:
            changes[key] = _count(changes[key], 0)
    migration.set_endpoint(call.tenant, call.text("Identity") or "", changes,
                           bool(call.params.get("SkipVerification")))
    return []


def remove_migration_endpoint(call: Call) -> list[Any]:
    migration.remove_endpoint(call.tenant, call.text("Identity") or "")
    return []


def new_migration_batch(call: Call) -> list[Any]:
    call.reject_unsupported({"Name", "SourceEndpoint", "CSVData", "AutoStart", "ExcludeFolders",
                             "NotificationEmails", "AllowUnknownColumnsInCsv", "TimeZone",
                             "ReportInterval", "SkipReports"})
    data = call.params.get("CSVData")
    batch = migration.new_batch(
        call.store, call.tenant, call.text("Name") or "", call.text("SourceEndpoint"),
        bytes(data) if data is not None else b"",
        auto_start=bool(call.params.get("AutoStart")),
        exclude_folders=call.strings("ExcludeFolders"),
        notification_emails=call.strings("NotificationEmails"),
        allow_unknown_columns=bool(call.params.get("AllowUnknownColumnsInCsv")),
    )
    return [objects.migration_batch(call.tenant, batch)]


def get_migration_batch(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "Status", "Endpoint", "ResultSize", "IncludeReport",
                             "DiagnosticInfo"})
    identity = call.text("Identity")
    batches = ([migration.find_batch(call.tenant, identity)] if identity
               else list(call.tenant.batches.values()))
    endpoint = call.text("Endpoint")
    if endpoint:
        name = migration.find_endpoint(call.tenant, endpoint).name
        batches = [b for b in batches if b.endpoint == name]
    built = [objects.migration_batch(call.tenant, b) for b in batches]
    status = call.text("Status")
    if status:
        built = [b for b in built if str(b["Status"]).casefold() == status.casefold()]
    return limit_results(call, built)


def set_migration_batch(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "NotificationEmails", "CSVData",
                             "AllowUnknownColumnsInCsv"})
    emails = call.strings("NotificationEmails") if call.has("NotificationEmails") else None
    data = call.params.get("CSVData")
    migration.set_batch(call.tenant, call.text("Identity") or "", emails,
                        bytes(data) if data is not None else None,
                        bool(call.params.get("AllowUnknownColumnsInCsv")))
    return []


def start_migration_batch(call: Call) -> list[Any]:
    migration.start_batch(call.store, call.tenant, call.text("Identity") or "")
    return []


def stop_migration_batch(call: Call) -> list[Any]:
    migration.stop_batch(call.tenant, call.text("Identity") or "")
    return []


def complete_migration_batch(call: Call) -> list[Any]:
    migration.complete_batch(call.tenant, call.text("Identity") or "")
    return []


def remove_migration_batch(call: Call) -> list[Any]:
    migration.remove_batch(call.tenant, call.text("Identity") or "")
    return []


def get_migration_user(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "BatchId", "Status", "StatusSummary", "EmailAddress",
                             "ResultSize", "MailboxGuid"})
    users = migration.find_users(call.tenant, call.text("Identity") or call.text("EmailAddress"),
                                 call.text("BatchId"), call.text("Status"))
    summary = call.text("StatusSummary")
    if summary:
        users = [u for u in users
                 if migration.STATUS_SUMMARY.get(u.status, "").casefold() == summary.casefold()]
    guid = call.text("MailboxGuid")
    if guid:
        users = [u for u in users if u.mailbox_guid == guid.casefold()]
    return limit_results(call, [objects.migration_user(u) for u in users])


def remove_migration_user(call: Call) -> list[Any]:
    migration.remove_user(call.tenant, call.text("Identity") or "")
    return []


def get_migration_user_statistics(call: Call) -> list[Any]:
    call.reject_unsupported({"Identity", "IncludeReport", "IncludeSkippedItems",
                             "LimitSkippedItemsTo", "DiagnosticInfo", "SkipSubscription"})
    users = migration.find_users(call.tenant, call.text("Identity") or "")
    return [objects.migration_user_statistics(u) for u in users]
