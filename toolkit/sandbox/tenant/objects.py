"""Output objects: the model as the PowerShell objects a remote client deserializes.

Property names and type names follow what Microsoft's modules emit; objects crossing a
remoting boundary carry ``Deserialized.``-prefixed type names, enums arrive as their
names and GUID-typed properties as ``uuid.UUID``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from toolkit.sandbox.tenant import migration
from toolkit.sandbox.tenant.identity_resolution import distinguished_name
from toolkit.sandbox.tenant.model import (
    Domain,
    Group,
    Mailbox,
    MigrationBatch,
    MigrationEndpoint,
    MigrationUser,
    Sku,
    Tenant,
    User,
)
from toolkit.sandbox.tenant.permissions import AceView, RecipientAceView
from toolkit.sandbox.values import Layout, PSObject

EXCHANGE_DATA = "Microsoft.Exchange.Data.Directory"
GRAPH_MODELS = "Microsoft.Graph.PowerShell.Models"


def _types(*names: str) -> list[str]:
    return [f"Deserialized.{name}" for name in (*names, "System.Object")]


def _time(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def _guid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def select(obj: PSObject, names: Iterable[str]) -> PSObject:
    """Keep only ``names`` (wildcard ``*`` keeps all), as ``-Properties`` projections do."""
    wanted = list(names)
    if "*" in wanted:
        return obj
    kept = [(k, obj.properties[k]) for k in wanted if k in obj.properties]
    return PSObject(kept, obj.type_names)


# ---------------------------------------------------------------------- Exchange recipients

_MAILBOX_TYPES = _types(
    f"{EXCHANGE_DATA}.Management.Mailbox",
    f"{EXCHANGE_DATA}.Management.MailEnabledOrgPerson",
    f"{EXCHANGE_DATA}.Management.MailEnabledRecipient",
    f"{EXCHANGE_DATA}.ADPresentationObject",
    f"{EXCHANGE_DATA}.ConfigurableObject",
)
EXO_MAILBOX_TYPES = _types("Microsoft.Exchange.Management.RestApiClient.ExoMailbox")

# Get-EXOMailbox's default ("Minimum") property set.
EXO_MINIMUM_PROPERTIES = (
    "ExternalDirectoryObjectId", "UserPrincipalName", "Alias", "DisplayName", "EmailAddresses",
    "PrimarySmtpAddress", "RecipientType", "RecipientTypeDetails", "Identity", "Id",
    "ExchangeVersion", "Name", "DistinguishedName", "OrganizationId", "Guid",
)


def _trustee_names(tenant: Tenant, user_ids: Iterable[str]) -> list[str]:
    names: list[str] = []
    for user_id in user_ids:
        mailbox = tenant.mailbox_of(user_id)
        user = tenant.users.get(user_id)
        group = tenant.groups.get(user_id)
        if mailbox is not None:
            names.append(mailbox.name)
        elif user is not None:
            names.append(user.display_name)
        elif group is not None:
            names.append(group.alias)
    return names


def mailbox(tenant: Tenant, box: Mailbox) -> PSObject:
    user = tenant.users.get(box.user_id)
    dn = distinguished_name(tenant, box.name)
    props: list[tuple[str, Any]] = [
        ("Name", box.name),
        ("Alias", box.alias),
        ("DisplayName", box.display_name),
        ("PrimarySmtpAddress", box.primary_smtp),
        ("UserPrincipalName", user.upn if user else None),
        ("RecipientType", "UserMailbox"),  # shared mailboxes too
        ("RecipientTypeDetails", box.recipient_type_details),
        ("EmailAddresses", list(box.email_addresses)),
        ("GrantSendOnBehalfTo", _trustee_names(tenant, box.grant_send_on_behalf_to)),
        ("HiddenFromAddressListsEnabled", box.hidden_from_address_lists),
        ("WindowsEmailAddress", box.primary_smtp),
        ("IsMailboxEnabled", True),
        ("IsShared", box.recipient_type_details == "SharedMailbox"),
        ("AccountDisabled", not user.enabled if user else True),
        ("UsageLocation", _country(user.usage_location) if user else None),
        ("ArchiveStatus", "None"),
        ("LitigationHoldEnabled", False),
        ("ForwardingSmtpAddress", None),
        ("DeliverToMailboxAndForward", False),
        ("WhenCreated", _time(box.created)),
        ("WhenMailboxCreated", _time(box.created)),
        ("ExternalDirectoryObjectId", box.user_id),
        ("ExchangeGuid", _guid(box.exchange_guid)),
        ("Guid", _guid(box.guid)),
        ("DistinguishedName", dn),
        ("Identity", box.name),
        ("Id", box.name),
        ("OrganizationId", f"{tenant.name} - {tenant.name}"),
        ("OrganizationalUnit", f"{tenant.name}"),
        ("ExchangeVersion", "0.20 (15.0.0.0)"),
    ]
    props.extend((f"CustomAttribute{i + 1}", value)  # unset: "", as Exchange shows it
                 for i, value in enumerate(box.custom_attributes))
    return PSObject(props, _MAILBOX_TYPES)


_COUNTRIES = {"US": "United States", "GB": "United Kingdom", "DE": "Germany",
              "FR": "France", "NL": "Netherlands", "CA": "Canada", "AU": "Australia"}


def _country(code: str | None) -> str | None:
    return _COUNTRIES.get(code or "", code) if code else None


def exo_mailbox(tenant: Tenant, box: Mailbox, properties: Iterable[str] = (),
                property_sets: Iterable[str] = ()) -> PSObject:
    full = mailbox(tenant, box)
    if any(s.casefold() == "all" for s in property_sets):
        return PSObject(full.properties.items(), EXO_MAILBOX_TYPES)
    names = [*EXO_MINIMUM_PROPERTIES, *properties]
    return PSObject(select(full, names).properties.items(), EXO_MAILBOX_TYPES)


def recipient(tenant: Tenant, box: Mailbox) -> PSObject:
    full = mailbox(tenant, box)
    names = ("Name", "Alias", "DisplayName", "PrimarySmtpAddress", "RecipientType",
             "RecipientTypeDetails", "EmailAddresses", "HiddenFromAddressListsEnabled",
             "ExternalDirectoryObjectId", "Guid", "DistinguishedName", "Identity",
             *(f"CustomAttribute{i}" for i in range(1, 16)))
    return PSObject(select(full, names).properties.items(),
                    _types(f"{EXCHANGE_DATA}.Management.ReducedRecipient",
                           f"{EXCHANGE_DATA}.ADPresentationObject",
                           f"{EXCHANGE_DATA}.ConfigurableObject"))


def group_recipient(tenant: Tenant, group: Group) -> PSObject:
    """Get-Recipient of a mail-enabled security group."""
    return PSObject(
        [
            ("Name", group.alias),
            ("Alias", group.alias),
            ("DisplayName", group.display_name),
            ("PrimarySmtpAddress", group.email),
            ("RecipientType", "MailUniversalSecurityGroup"),
            ("RecipientTypeDetails", "MailUniversalSecurityGroup"),
            ("EmailAddresses", [f"SMTP:{group.email}"]),
            ("ExternalDirectoryObjectId", group.id),
            ("Guid", group.id),
            ("DistinguishedName", distinguished_name(tenant, group.alias)),
            ("Identity", group.alias),
        ],
        _types(f"{EXCHANGE_DATA}.Management.ReducedRecipient",
               f"{EXCHANGE_DATA}.ADPresentationObject",
               f"{EXCHANGE_DATA}.ConfigurableObject"),
    )


def group_filters(tenant: Tenant) -> dict[str, Callable[[PSObject], list[str]]]:
    """Get-Recipient's filterable group properties, which its output does not show:
    ``MemberOfGroup`` (the distinguished names of the groups a recipient is a direct member
    of) and ``Members`` (a group's direct members, by distinguished name)."""

    def recipient_dn(user_id: str) -> str | None:
        box = tenant.mailbox_of(user_id)
        return distinguished_name(tenant, box.name) if box is not None else None

    def member_of(obj: PSObject) -> list[str]:
        user_id = str(obj.get("ExternalDirectoryObjectId", ""))
        return [distinguished_name(tenant, g.alias) for g in tenant.groups.values()
                if user_id in g.members]

    def members(obj: PSObject) -> list[str]:
        group = tenant.groups.get(str(obj.get("ExternalDirectoryObjectId", "")))
        found = [recipient_dn(m) for m in group.members] if group is not None else []
        return [dn for dn in found if dn is not None]

    return {"memberofgroup": member_of, "members": members}


def exchange_user(tenant: Tenant, user: User) -> PSObject:
    box = tenant.mailbox_of(user.id)
    if box is not None:
        kind = box.recipient_type_details
    else:
        kind = "User" if user.enabled else "DisabledUser"
    name = box.name if box else user.mail_nickname
    return PSObject(
        [
            ("Name", name),
            ("UserPrincipalName", user.upn),
            ("DisplayName", user.display_name),
            ("FirstName", user.given_name),
            ("LastName", user.surname),
            ("Title", user.job_title or ""),
            ("Department", user.department or ""),
            ("RecipientType", "UserMailbox" if box else "User"),
            ("RecipientTypeDetails", kind),
            ("AccountDisabled", not user.enabled),
            ("WindowsEmailAddress", box.primary_smtp if box else None),
            ("CountryOrRegion", _country(user.usage_location)),
            ("ExternalDirectoryObjectId", user.id),
            ("Guid", _guid(user.id)),
            ("DistinguishedName", distinguished_name(tenant, name)),
            ("Identity", name),
        ],
        _types(f"{EXCHANGE_DATA}.Management.User", f"{EXCHANGE_DATA}.Management.OrgPerson",
               f"{EXCHANGE_DATA}.ADPresentationObject",
               f"{EXCHANGE_DATA}.ConfigurableObject"),
    )


def cas_mailbox(tenant: Tenant, box: Mailbox) -> PSObject:
    return PSObject(
        [
            ("Name", box.name),
            ("DisplayName", box.display_name),
            ("PrimarySmtpAddress", box.primary_smtp),
            ("EmailAddresses", list(box.email_addresses)),
            ("PopEnabled", box.pop_enabled),
            ("ImapEnabled", box.imap_enabled),
            ("MAPIEnabled", box.mapi_enabled),
            ("OWAEnabled", box.owa_enabled),
            ("ActiveSyncEnabled", box.activesync_enabled),
            ("EwsEnabled", box.ews_enabled),
            ("SmtpClientAuthenticationDisabled", None),
            ("ExternalDirectoryObjectId", box.user_id),
            ("Guid", _guid(box.guid)),
            ("DistinguishedName", distinguished_name(tenant, box.name)),
            ("Identity", box.name),
        ],
        _types(f"{EXCHANGE_DATA}.Management.CASMailbox",
               f"{EXCHANGE_DATA}.ADPresentationObject",
               f"{EXCHANGE_DATA}.ConfigurableObject"),
    )


def accepted_domain(tenant: Tenant, domain: Domain) -> PSObject:
    default = domain.default or (domain.initial and not any(d.default for d in tenant.domains))
    return PSObject(
        [
            ("Name", domain.name),
            ("DomainName", domain.name),
            ("DomainType", "Authoritative"),
            ("Default", default),
            ("InitialDomain", domain.initial),
            ("AuthenticationType", "Managed"),
            ("Identity", domain.name),
            ("Guid", uuid.uuid5(uuid.NAMESPACE_DNS, domain.name.casefold())),
        ],
        _types(f"{EXCHANGE_DATA}.SystemConfiguration.AcceptedDomain",
               f"{EXCHANGE_DATA}.ADConfigurationObject",
               f"{EXCHANGE_DATA}.ConfigurableObject"),
    )


# ---------------------------------------------------------------------- permissions

_ACE_TYPES = _types("Microsoft.Exchange.Management.RecipientTasks.MailboxAcePresentationObject")
EXO_ACE_TYPES = _types("Microsoft.Exchange.Management.RestApiClient.ExoMailboxPermission")
_RECIPIENT_ACE_TYPES = _types("Microsoft.Exchange.Management.RecipientTasks.RecipientPermission")
EXO_RECIPIENT_ACE_TYPES = _types(
    "Microsoft.Exchange.Management.RestApiClient.ExoRecipientPermission")


_MAILBOX_ACE = Layout("Identity", "User", "AccessRights", "IsInherited", "Deny",
                      "InheritanceType")


def mailbox_ace(view: AceView, type_names: list[str] = _ACE_TYPES) -> PSObject:
    return PSObject.from_layout(
        _MAILBOX_ACE,
        (view.identity, view.user, list(view.rights), view.is_inherited, view.deny,
         view.inheritance_type),
        type_names,
    )


def recipient_ace(view: RecipientAceView, type_names: list[str] = _RECIPIENT_ACE_TYPES
                  ) -> PSObject:
    return PSObject(
        [
            ("Identity", view.identity),
            ("Trustee", view.trustee),
            ("AccessControlType", view.access_control_type),
            ("AccessRights", list(view.rights)),
            ("IsInherited", view.is_inherited),
            ("InheritanceType", view.inheritance_type),
        ],
        type_names,
    )


# ---------------------------------------------------------------------- migration

_MIGRATION = "Microsoft.Exchange.Migration"


def migration_endpoint(endpoint: MigrationEndpoint) -> PSObject:
    return PSObject(
        [
            ("Identity", endpoint.name),
            ("EndpointType", endpoint.endpoint_type),
            ("RemoteServer", endpoint.remote_server),
            ("Port", endpoint.port),
            ("Security", endpoint.security),
            ("Authentication", endpoint.authentication),
            ("MaxConcurrentMigrations", endpoint.max_concurrent_migrations),
            ("MaxConcurrentIncrementalSyncs", endpoint.max_concurrent_incremental_syncs),
            ("IsRemote", True),
            ("Guid", _guid(endpoint.guid)),
        ],
        _types(f"{_MIGRATION}.Interop.MigrationEndpoint"),
    )


def server_test(outcome: migration.ServerTest) -> PSObject:
    return PSObject(
        [
            ("Result", "Success" if outcome.ok else "Failed"),
            ("Message", outcome.message),
            ("ErrorDetail", outcome.error_detail or None),
            ("SupportsCutover", False),
            ("IsValid", True),
        ],
        _types(f"{_MIGRATION}.TestMigrationServerAvailabilityOutcome"),
    )


def migration_batch(tenant: Tenant, batch: MigrationBatch) -> PSObject:
    users = migration.batch_users(tenant, batch)

    def count(*statuses: str) -> int:
        return sum(1 for u in users if u.status in statuses)

    synced = [u.last_successful_sync for u in users if u.last_successful_sync]
    return PSObject(
        [
            ("Identity", batch.name),
            ("Status", migration.batch_status(tenant, batch)),
            ("MigrationType", "IMAP"),
            ("BatchDirection", "Onboarding"),
            ("TotalCount", len(users)),
            ("ActiveCount", count(*migration.ACTIVE)),
            ("StoppedCount", count("Stopped")),
            ("SyncedCount", count("Synced")),
            ("FinalizedCount", 0),
            ("FailedCount", count("Failed")),
            ("PendingCount", count("Queued")),
            ("ProvisionedCount", sum(1 for u in users if u.mailbox_guid)),
            ("CreationDateTime", _time(batch.created)),
            ("StartDateTime", _time(batch.started)),
            ("LastSyncedDateTime", _time(max(synced)) if synced else None),
            ("SourceEndpoint", batch.endpoint),
            ("TargetEndpoint", None),
            ("ExcludedFolders", list(batch.exclude_folders)),
            ("NotificationEmails", list(batch.notification_emails)),
            ("BatchGuid", _guid(batch.guid)),
        ],
        _types(f"{_MIGRATION}.MigrationBatch"),
    )


def migration_user(user: MigrationUser) -> PSObject:
    return PSObject(_migration_user_props(user), _types(f"{_MIGRATION}.MigrationUser"))


def _migration_user_props(user: MigrationUser) -> list[tuple[str, Any]]:
    return [
        ("Identity", user.email),
        ("BatchId", user.batch),
        ("MailboxEmailAddress", user.email),
        ("MailboxIdentifier", user.email),
        ("MailboxGuid", _guid(user.mailbox_guid)),
        ("RecipientType", "Mailbox"),
        ("Status", user.status),
        ("StatusSummary", migration.STATUS_SUMMARY.get(user.status, "Active")),
        ("SyncedItemCount", user.items_synced),
        ("SkippedItemCount", user.items_skipped),
        ("LastSuccessfulSyncTime", _time(user.last_successful_sync)),
        ("ErrorSummary", user.error or None),
        ("Guid", _guid(user.guid)),
    ]


def migration_user_statistics(user: MigrationUser) -> PSObject:
    props = _migration_user_props(user)
    props.extend([
        ("MigrationType", "IMAP"),
        ("TotalItemsInSourceMailboxCount", user.items_total),
        ("PercentageComplete", migration.percentage_complete(user)),
        ("BytesTransferred", f"{user.items_synced * 48} KB ({user.items_synced * 48 * 1024} "
                             "bytes)"),
        ("Error", user.error or None),
        ("UserName", user.username),
    ])
    return PSObject(props, _types(f"{_MIGRATION}.MigrationUserStatistics",
                                  f"{_MIGRATION}.MigrationUser"))


# ---------------------------------------------------------------------- Graph

GRAPH_USER_DEFAULT = (
    "Id", "DisplayName", "Mail", "UserPrincipalName", "GivenName", "Surname", "BusinessPhones",
    "JobTitle", "MobilePhone", "OfficeLocation", "PreferredLanguage",
)


def _assigned_license(sku_id: str) -> PSObject:
    return PSObject([("DisabledPlans", []), ("SkuId", sku_id)],
                    _types(f"{GRAPH_MODELS}.MicrosoftGraphAssignedLicense"))


def graph_user(tenant: Tenant, user: User, properties: Iterable[str] = ()) -> PSObject:
    """A MicrosoftGraphUser. As Graph does, only the default properties are filled unless
    ``-Property`` names others (AccountEnabled, UsageLocation, AssignedLicenses...)."""
    box = tenant.mailbox_of(user.id)
    values: dict[str, Any] = {
        "Id": user.id,
        "DisplayName": user.display_name,
        "Mail": box.primary_smtp if box else None,
        "UserPrincipalName": user.upn,
        "GivenName": user.given_name or None,
        "Surname": user.surname or None,
        "BusinessPhones": [],
        "JobTitle": user.job_title,
        "MobilePhone": None,
        "OfficeLocation": None,
        "PreferredLanguage": None,
        "AccountEnabled": user.enabled,
        "UsageLocation": user.usage_location,
        "AssignedLicenses": [_assigned_license(s) for s in user.licenses],
        "MailNickname": user.mail_nickname,
        "Department": user.department,
        "UserType": user.user_type,
        "CreatedDateTime": _time(user.created),
        "ProxyAddresses": list(box.email_addresses) if box else [],
        "PasswordProfile": None,
        "OnPremisesSyncEnabled": True if user.synced else None,  # null for cloud users
    }
    wanted = {p.casefold() for p in properties}
    everything = "*" in wanted
    filled = {k: v for k, v in values.items()
              if everything or k in GRAPH_USER_DEFAULT or k.casefold() in wanted}
    props = [(k, filled.get(k)) for k in values]
    return PSObject(props, _types(f"{GRAPH_MODELS}.MicrosoftGraphUser",
                                  f"{GRAPH_MODELS}.MicrosoftGraphDirectoryObject",
                                  f"{GRAPH_MODELS}.MicrosoftGraphEntity"))


def _service_plans(sku: Sku) -> list[PSObject]:
    return [
        PSObject([("AppliesTo", "User"), ("ProvisioningStatus", "Success"),
                  ("ServicePlanId", plan.plan_id), ("ServicePlanName", plan.name)],
                 _types(f"{GRAPH_MODELS}.MicrosoftGraphServicePlanInfo"))
        for plan in sku.service_plans
    ]


def subscribed_sku(tenant: Tenant, sku: Sku) -> PSObject:
    prepaid = PSObject(
        [("Enabled", sku.enabled), ("LockedOut", 0), ("Suspended", sku.suspended),
         ("Warning", sku.warning)],
        _types(f"{GRAPH_MODELS}.MicrosoftGraphLicenseUnitsDetail"),
    )
    return PSObject(
        [
            ("AccountId", tenant.id),
            ("AccountName", tenant.short_name),
            ("AppliesTo", "User"),
            ("CapabilityStatus", "Enabled"),
            ("ConsumedUnits", tenant.consumed_units(sku)),
            ("Id", f"{tenant.id}_{sku.sku_id}"),
            ("PrepaidUnits", prepaid),
            ("ServicePlans", _service_plans(sku)),
            ("SkuId", sku.sku_id),
            ("SkuPartNumber", sku.part_number),
            ("SubscriptionIds", [str(uuid.uuid5(uuid.NAMESPACE_URL, tenant.id + sku.sku_id))]),
        ],
        _types(f"{GRAPH_MODELS}.MicrosoftGraphSubscribedSku"),
    )


def license_detail(sku: Sku) -> PSObject:
    return PSObject(
        [("Id", sku.sku_id), ("ServicePlans", _service_plans(sku)), ("SkuId", sku.sku_id),
         ("SkuPartNumber", sku.part_number)],
        _types(f"{GRAPH_MODELS}.MicrosoftGraphLicenseDetails"),
    )


def graph_domain(domain: Domain) -> PSObject:
    return PSObject(
        [
            ("Id", domain.name),
            ("AuthenticationType", "Managed"),
            ("IsAdminManaged", True),
            ("IsDefault", domain.default),
            ("IsInitial", domain.initial),
            ("IsRoot", True),
            ("IsVerified", domain.verified),
            ("SupportedServices", ["Email", "OfficeCommunicationsOnline"] if domain.verified
             else []),
        ],
        _types(f"{GRAPH_MODELS}.MicrosoftGraphDomain"),
    )


def graph_invitation(user: User, email: str, redirect_url: str, invitation_id: str) -> PSObject:
    invited = PSObject([("Id", user.id), ("UserPrincipalName", user.upn)],
                       _types(f"{GRAPH_MODELS}.MicrosoftGraphUser"))
    return PSObject(
        [
            ("Id", invitation_id),
            ("InviteRedeemUrl", f"https://login.microsoftonline.com/redeem?rd={invitation_id}"),
            ("InviteRedirectUrl", redirect_url),
            ("InvitedUser", invited),
            ("InvitedUserDisplayName", user.display_name),
            ("InvitedUserEmailAddress", email),
            ("InvitedUserType", "Guest"),
            ("SendInvitationMessage", False),
            ("Status", "PendingAcceptance"),
        ],
        _types(f"{GRAPH_MODELS}.MicrosoftGraphInvitation"),
    )
