"""Licences: usage location first, free units, and the mailbox that follows after a delay."""

from __future__ import annotations

import pytest
from tenant_helpers import FakeClock

from toolkit.sandbox.tenant import licensing, permissions
from toolkit.sandbox.tenant.demo import demo_world
from toolkit.sandbox.tenant.errors import TenantError
from toolkit.sandbox.tenant.model import Tenant
from toolkit.sandbox.tenant.store import TenantSettings, TenantStore

E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"


def test_usage_location_is_required_first(store: TenantStore, contoso: Tenant) -> None:
    user = store.resolver(contoso).graph_user("priya.raman@contoso.com")
    with pytest.raises(TenantError) as caught:
        licensing.set_user_license(store, contoso, user, [E3], [])
    assert caught.value.message == (
        "License assignment cannot be done for user with invalid usage location.")
    assert user.licenses == []


def test_exhausted_sku_has_no_available_licenses(store: TenantStore, contoso: Tenant) -> None:
    user = store.resolver(contoso).graph_user("nora.ahmed@contoso.com")
    with pytest.raises(TenantError) as caught:
        licensing.set_user_license(store, contoso, user, [EMS], [])
    assert caught.value.message == (
        f"Subscription with SKU {EMS} does not have any available licenses.")


def test_exchange_licence_brings_the_mailbox_after_the_delay(store: TenantStore,
                                                             contoso: Tenant,
                                                             clock: FakeClock) -> None:
    with store.write():
        user = store.resolver(contoso).graph_user("nora.ahmed@contoso.com")
        e3 = contoso.sku_by_id(E3)
        assert e3 is not None
        before = contoso.consumed_units(e3)
        licensing.set_user_license(store, contoso, user, [E3], [])
        assert contoso.consumed_units(e3) == before + 1
    with store.read(), pytest.raises(TenantError, match="couldn't be found"):
        permissions.add_mailbox_permission(store, contoso, "nora.ahmed@contoso.com",
                                           "megan.bowen@contoso.com", ["FullAccess"])
    clock.advance(61)
    with store.read():
        box = store.resolver(contoso).mailbox("nora.ahmed@contoso.com")
    assert box.recipient_type_details == "UserMailbox"


def test_zero_delay_creates_the_mailbox_at_once(clock: FakeClock) -> None:
    store = TenantStore(demo_world(), clock=clock, settings=TenantSettings(mailbox_delay_s=0))
    contoso = store.world.tenants["contoso.onmicrosoft.com"]
    user = store.resolver(contoso).graph_user("omar.haddad@contoso.com")
    licensing.set_user_license(store, contoso, user, [E3], [])
    assert contoso.mailbox_of(user.id) is not None


