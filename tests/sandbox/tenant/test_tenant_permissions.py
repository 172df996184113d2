"""Mailbox and recipient permissions with Exchange Online's texts and noise."""

from __future__ import annotations

import pytest
from tenant_helpers import Warnings

from toolkit.sandbox.tenant import directory, permissions
from toolkit.sandbox.tenant.errors import TenantError
from toolkit.sandbox.tenant.model import Tenant
from toolkit.sandbox.tenant.store import TenantStore


def test_full_access_grant_then_duplicate_is_an_error(store: TenantStore, contoso: Tenant) -> None:
    rows = permissions.add_mailbox_permission(store, contoso, "sales@contoso.com",
                                              "megan.bowen@contoso.com", ["FullAccess"])
    assert rows[0].user == "megan.bowen@contoso.com" and rows[0].rights == ("FullAccess",)
    with pytest.raises(TenantError) as caught:
        permissions.add_mailbox_permission(store, contoso, "Sales", "Megan Bowen",
                                           ["fullaccess"], automapping=False)
    assert caught.value.message == (
        "An existing permission entry was found for user: megan.bowen@contoso.com.")
    assert caught.value.service == "exchange"


def test_listing_carries_self_inherited_deny_and_orphans(store: TenantStore,
                                                        contoso: Tenant) -> None:
    box = store.resolver(contoso).mailbox("finance@contoso.com")
    rows = permissions.mailbox_aces(contoso, box)
    users = [r.user for r in rows]
    assert users[0] == "NT AUTHORITY\\SELF"
    assert any(r.is_inherited and r.deny for r in rows)
    assert any(r.user.startswith("S-1-5-21-") for r in rows)
    assert any(r.user == "lynne.robbins@contoso.com" and r.deny and not r.is_inherited
               for r in rows)
    explicit = [r for r in rows if not r.is_inherited and not r.deny
                and r.user != "NT AUTHORITY\\SELF" and not r.user.startswith("S-1-5-21")]
    assert {r.user for r in explicit} == {"emily.braun@contoso.com", "pradeep.gupta@contoso.com"}


def test_remove_absent_warns_and_remove_present_works(store: TenantStore, contoso: Tenant,
                                                     warnings: Warnings) -> None:
    permissions.remove_mailbox_permission(store, contoso, "sales", "megan.bowen@contoso.com",
                                          ["FullAccess"], warnings)
    assert len(warnings) == 1
    assert warnings[0].startswith("Can't remove the access control entry on the object \"CN=Sales,")
    assert warnings[0].endswith('for account "megan.bowen@contoso.com" because the ACE '
                                "doesn't exist on the object.")
    permissions.remove_mailbox_permission(store, contoso, "sales", "adele.vance@contoso.com",
                                          ["FullAccess"], warnings)
    assert len(warnings) == 1
    box = store.resolver(contoso).mailbox("sales")
    assert "adele.vance@contoso.com" not in [r.user for r in permissions.mailbox_aces(contoso, box)]


def test_orphaned_sid_can_be_removed(store: TenantStore, contoso: Tenant,
                                     warnings: Warnings) -> None:
    box = store.resolver(contoso).mailbox("sales")
    sid = next(r.user for r in permissions.mailbox_aces(contoso, box) if r.user.startswith("S-1"))
    permissions.remove_mailbox_permission(store, contoso, "sales", sid, ["FullAccess"], warnings)
    assert not warnings
    assert sid not in [r.user for r in permissions.mailbox_aces(contoso, box)]


def test_deleted_trustee_becomes_an_orphaned_sid(store: TenantStore, contoso: Tenant) -> None:
    user = store.resolver(contoso).graph_user("alex.wilber@contoso.com")
    directory.remove_user(contoso, user)
    box = store.resolver(contoso).mailbox("sales")
    assert permissions.orphan_sid(user.id) in [r.user for r in permissions.mailbox_aces(contoso,
                                                                                        box)]


def test_unknown_right_and_unknown_user(store: TenantStore, contoso: Tenant) -> None:
    with pytest.raises(TenantError, match="MailboxRights"):
        permissions.add_mailbox_permission(store, contoso, "sales", "adele.vance@contoso.com",
                                           ["ReadAll"])
    with pytest.raises(TenantError) as caught:
        permissions.add_mailbox_permission(store, contoso, "sales", "nobody@contoso.com",
                                           ["FullAccess"])
    assert caught.value.exception_type.endswith("ManagementObjectNotFoundException")


def test_ace_limit(store: TenantStore, contoso: Tenant) -> None:
    box = store.resolver(contoso).mailbox("support")
    from toolkit.sandbox.tenant.model import MailboxAce
    while len(box.aces) + permissions.IMPLICIT_ACE_COUNT < 500:
        box.aces.append(MailboxAce(["ReadPermission"], None, "S-1-5-21-1-2-3-4"))
    with pytest.raises(TenantError, match="500"):
        permissions.add_mailbox_permission(store, contoso, "support", "megan.bowen@contoso.com",
                                           ["FullAccess"])


def test_send_as_idempotency_warnings(store: TenantStore, contoso: Tenant,
                                      warnings: Warnings) -> None:
    rows = permissions.add_recipient_permission(store, contoso, "support",
                                                "megan.bowen@contoso.com", ["SendAs"], warnings)
    assert rows[0].trustee == "megan.bowen@contoso.com" and not warnings
    assert permissions.add_recipient_permission(store, contoso, "support", "Megan Bowen",
                                                ["SendAs"], warnings) == []
    assert warnings[-1] == ('The appropriate access control entry is already present on object '
                            '"Support" for account "megan.bowen@contoso.com".')
    permissions.remove_recipient_permission(store, contoso, "support", "megan.bowen@contoso.com",
                                            ["SendAs"], warnings)
    permissions.remove_recipient_permission(store, contoso, "support", "megan.bowen@contoso.com",
                                            ["SendAs"], warnings)
    assert "because the ACE doesn't exist on the object" in warnings[-1]
    box = store.resolver(contoso).mailbox("info")
    trustees = [r.trustee for r in permissions.recipient_aces(contoso, box)]
    assert trustees[0] == "NT AUTHORITY\\SELF"
    assert "patti.fernandez@contoso.com" in trustees
    assert any(t.startswith("S-1-5-21-") for t in trustees)
