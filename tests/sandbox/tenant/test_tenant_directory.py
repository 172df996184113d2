"""Graph user changes."""

from __future__ import annotations

import pytest

from toolkit.sandbox.tenant import directory
from toolkit.sandbox.tenant.directory import NewUser
from toolkit.sandbox.tenant.errors import TenantError
from toolkit.sandbox.tenant.model import Tenant
from toolkit.sandbox.tenant.store import TenantStore


def test_create_user_checks_domain_duplicates_and_password(store: TenantStore,
                                                           contoso: Tenant) -> None:
    user = directory.create_user(store, contoso, NewUser(
        "kim.akers@contoso.com", "Kim Akers", "Welcome-2025!", usage_location="us"))
    assert user.usage_location == "US" and user.mail_nickname == "kim.akers"
    for upn, password, text in (
        ("kim.akers@contoso.com", "Welcome-2025!", "Another object with the same value"),
        ("kim@contoso.net", "Welcome-2025!", "verified domain names"),
        ("kim2@contoso.com", "short", "password complexity"),
    ):
        with pytest.raises(TenantError, match=text):
            directory.create_user(store, contoso, NewUser(upn, "Kim", password))


def test_update_user_password_profile_and_usage_location(store: TenantStore,
                                                         contoso: Tenant) -> None:
    user = store.resolver(contoso).graph_user("nora.ahmed@contoso.com")
    directory.update_user(store, contoso, user, {
        "AccountEnabled": True, "UsageLocation": "DE",
        "PasswordProfile": {"Password": "Temp-Pass-9", "ForceChangePasswordNextSignIn": True}})
    assert user.enabled and user.usage_location == "DE"
    assert user.password_profile.password == "Temp-Pass-9"
    with pytest.raises(TenantError, match="usageLocation"):
        directory.update_user(store, contoso, user, {"UsageLocation": "Germany"})


def test_guest_invitation(store: TenantStore, contoso: Tenant) -> None:
    guest = directory.invite_guest(store, contoso, "ext@partner.example", None)
    assert guest.upn == "ext_partner.example#EXT#@contoso.onmicrosoft.com"
    assert guest.user_type == "Guest"
