"""Output objects carry the real property and type names."""

from __future__ import annotations

import uuid

from toolkit.sandbox.tenant import migration, objects, permissions
from toolkit.sandbox.tenant.demo import demo_imap_csv
from toolkit.sandbox.tenant.model import Tenant
from toolkit.sandbox.tenant.store import TenantStore


def test_mailbox_permission_row(store: TenantStore, contoso: Tenant) -> None:
    box = store.resolver(contoso).mailbox("sales")
    row = objects.mailbox_ace(permissions.mailbox_aces(contoso, box)[1])
    assert row.type_names == [
        "Deserialized.Microsoft.Exchange.Management.RecipientTasks.MailboxAcePresentationObject",
        "Deserialized.System.Object"]
    assert list(row.properties) == ["Identity", "User", "AccessRights", "IsInherited", "Deny",
                                    "InheritanceType"]
    send_as = objects.recipient_ace(permissions.recipient_aces(contoso, box)[0])
    assert list(send_as.properties) == ["Identity", "Trustee", "AccessControlType",
                                        "AccessRights", "IsInherited", "InheritanceType"]


def test_mailbox_and_exo_projection(store: TenantStore, contoso: Tenant) -> None:
    box = store.resolver(contoso).mailbox("support")
    full = objects.mailbox(contoso, box)
    for name in ("Name", "Alias", "DisplayName", "PrimarySmtpAddress", "UserPrincipalName",
                 "RecipientTypeDetails", "EmailAddresses", "GrantSendOnBehalfTo", "Guid",
                 "ExchangeGuid", "DistinguishedName", "Identity", "CustomAttribute15",
                 "HiddenFromAddressListsEnabled"):
        assert name in full.properties
    assert full["GrantSendOnBehalfTo"] == ["grady.archie"]
    assert isinstance(full["Guid"], uuid.UUID)
    assert full["RecipientTypeDetails"] == "SharedMailbox"
    exo = objects.exo_mailbox(contoso, box, ["GrantSendOnBehalfTo"])
    assert "GrantSendOnBehalfTo" in exo.properties and "CustomAttribute1" not in exo.properties


def test_graph_user_fills_only_selected_properties(store: TenantStore, contoso: Tenant) -> None:
    user = store.resolver(contoso).graph_user("megan.bowen@contoso.com")
    plain = objects.graph_user(contoso, user)
    assert plain["UserPrincipalName"] == user.upn and plain["AccountEnabled"] is None
    chosen = objects.graph_user(contoso, user, ["accountEnabled", "AssignedLicenses"])
    assert chosen["AccountEnabled"] is True
    assert chosen["AssignedLicenses"][0]["SkuId"] == "c7df2760-2c81-4ef7-b578-5b5392b571df"


def test_skus_and_migration_objects(store: TenantStore, contoso: Tenant) -> None:
    ems = contoso.sku_by_part_number("EMS")
    assert ems is not None
    sku = objects.subscribed_sku(contoso, ems)
    assert sku["PrepaidUnits"]["Enabled"] == sku["ConsumedUnits"] == 10
    migration.new_endpoint(store, contoso, "Gmail", "imap.gmail.com", 993)
    batch = migration.new_batch(store, contoso, "B1", "Gmail", demo_imap_csv())
    shown = objects.migration_batch(contoso, batch)
    assert shown["Status"] == "Created" and shown["TotalCount"] == 3
    stats = objects.migration_user_statistics(migration.find_users(contoso, batch="B1")[0])
    assert {"TotalItemsInSourceMailboxCount", "SyncedItemCount", "PercentageComplete",
            "StatusSummary"} <= set(stats.properties)
    assert "Password" not in stats.properties
