"""Set-Mailbox multi-valued edits, CAS settings and shared mailboxes."""

from __future__ import annotations

import pytest
from tenant_helpers import Warnings

from toolkit.sandbox.tenant import mailboxes
from toolkit.sandbox.tenant.errors import TenantError
from toolkit.sandbox.tenant.mailboxes import MultiValueEdit
from toolkit.sandbox.tenant.model import Tenant
from toolkit.sandbox.tenant.store import TenantStore


def _names(store: TenantStore, contoso: Tenant, identity: str) -> list[str]:
    box = store.resolver(contoso).mailbox(identity)
    return [contoso.users[u].upn for u in box.grant_send_on_behalf_to]


def test_send_on_behalf_add_remove_and_replace(store: TenantStore, contoso: Tenant,
                                               warnings: Warnings) -> None:
    mailboxes.set_mailbox(store, contoso, "support", {
        "GrantSendOnBehalfTo": MultiValueEdit(add=["megan.bowen@contoso.com"])}, warnings)
    assert _names(store, contoso, "support") == ["grady.archie@contoso.com",
                                                 "megan.bowen@contoso.com"]
    mailboxes.set_mailbox(store, contoso, "support", {
        "GrantSendOnBehalfTo": MultiValueEdit(remove=["Grady Archie"])}, warnings)
    assert _names(store, contoso, "support") == ["megan.bowen@contoso.com"]
    mailboxes.set_mailbox(store, contoso, "support", {
        "GrantSendOnBehalfTo": MultiValueEdit(replace=["lee.gu@contoso.com"])}, warnings)
    assert _names(store, contoso, "support") == ["lee.gu@contoso.com"]
    assert not warnings
    mailboxes.set_mailbox(store, contoso, "support", {
        "GrantSendOnBehalfTo": MultiValueEdit(add=["lee.gu@contoso.com"])}, warnings)
    assert warnings == ["The command completed successfully but no settings of 'support' have "
                        "been modified."]


def test_email_addresses_edit_and_replace(store: TenantStore, contoso: Tenant,
                                          warnings: Warnings) -> None:
    with store.write():  # a change invalidates the cached lookup tables
        mailboxes.set_mailbox(store, contoso, "adele.vance@contoso.com", {
            "EmailAddresses": MultiValueEdit(add=["adele@contoso.com", "smtp:av@contoso.com"])},
            warnings)
    box = store.resolver(contoso).mailbox("adele@contoso.com")
    assert "smtp:av@contoso.com" in box.email_addresses
    mailboxes.set_mailbox(store, contoso, box.guid, {
        "EmailAddresses": MultiValueEdit(add=["SMTP:adele@contoso.com"])}, warnings)
    assert box.primary_smtp == "adele@contoso.com"
    assert "smtp:adele.vance@contoso.com" in box.email_addresses
    with pytest.raises(TenantError, match="primary SMTP"):
        mailboxes.set_mailbox(store, contoso, box.guid, {
            "EmailAddresses": MultiValueEdit(remove=["adele@contoso.com"])}, warnings)
    mailboxes.set_mailbox(store, contoso, box.guid, {
        "EmailAddresses": MultiValueEdit(replace=["SMTP:adele.vance@contoso.com"])}, warnings)
    assert box.email_addresses == ["SMTP:adele.vance@contoso.com"]


def test_email_address_domain_and_uniqueness(store: TenantStore, contoso: Tenant,
                                             warnings: Warnings) -> None:
    with pytest.raises(TenantError, match="isn't an accepted domain"):
        mailboxes.set_mailbox(store, contoso, "sales", {
            "EmailAddresses": MultiValueEdit(add=["sales@contoso.net"])}, warnings)
    with pytest.raises(TenantError, match="is already being used"):
        mailboxes.set_mailbox(store, contoso, "sales", {
            "EmailAddresses": MultiValueEdit(add=["info@contoso.com"])}, warnings)


def test_simple_properties(store: TenantStore, contoso: Tenant, warnings: Warnings) -> None:
    mailboxes.set_mailbox(store, contoso, "info", {
        "CustomAttribute1": "ticket-42", "CustomAttribute15": "x",
        "HiddenFromAddressListsEnabled": True, "DisplayName": "Information"}, warnings)
    box = store.resolver(contoso).mailbox("info")
    assert box.custom_attributes[0] == "ticket-42" and box.custom_attributes[14] == "x"
    assert box.hidden_from_address_lists and box.display_name == "Information"
    with pytest.raises(TenantError, match="doesn't emulate"):
        mailboxes.set_mailbox(store, contoso, "info", {"RetainDeletedItemsFor": "30"}, warnings)
    mailboxes.set_mailbox(store, contoso, "info", {"Type": "Regular"}, warnings)
    assert box.recipient_type_details == "UserMailbox"


def test_cas_settings(store: TenantStore, contoso: Tenant, warnings: Warnings) -> None:
    mailboxes.set_cas_mailbox(store, contoso, "lee.gu@contoso.com",
                              {"PopEnabled": False, "ImapEnabled": False}, warnings)
    box = store.resolver(contoso).mailbox("lee.gu@contoso.com")
    assert not box.pop_enabled and not box.imap_enabled and not warnings
    mailboxes.set_cas_mailbox(store, contoso, "lee.gu@contoso.com", {"PopEnabled": False},
                              warnings)
    assert len(warnings) == 1


def test_new_shared_mailbox(store: TenantStore, contoso: Tenant) -> None:
    box = mailboxes.new_shared_mailbox(store, contoso, "Help Desk")
    assert box.recipient_type_details == "SharedMailbox"
    assert box.primary_smtp == "HelpDesk@contoso.com"
    assert not contoso.users[box.user_id].enabled
    with pytest.raises(TenantError, match="already exists"):
        mailboxes.new_shared_mailbox(store, contoso, "Help Desk")
    with pytest.raises(TenantError, match="already being used"):
        mailboxes.new_shared_mailbox(store, contoso, "Sales 2", primary_smtp="sales@contoso.com")
