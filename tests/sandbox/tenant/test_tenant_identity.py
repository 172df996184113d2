"""Identity resolution by every identifier Exchange accepts; Graph's narrower -UserId."""

from __future__ import annotations

import pytest

from toolkit.sandbox.tenant.errors import TenantError
from toolkit.sandbox.tenant.identity_resolution import distinguished_name
from toolkit.sandbox.tenant.model import Tenant
from toolkit.sandbox.tenant.store import TenantStore


def test_every_identifier_resolves_the_same_mailbox(store: TenantStore, contoso: Tenant) -> None:
    resolver = store.resolver(contoso)
    box = resolver.mailbox("adele.vance@contoso.com")
    for identity in (box.name, box.alias, box.display_name, "ADELE.VANCE@CONTOSO.COM",
                     f"smtp:{box.alias}@contoso.onmicrosoft.com", box.guid, box.exchange_guid,
                     box.user_id, distinguished_name(contoso, box.name)):
        assert resolver.mailbox(identity) is box


def test_not_found_and_ambiguous_texts(store: TenantStore, contoso: Tenant) -> None:
    resolver = store.resolver(contoso)
    with pytest.raises(TenantError) as caught:
        resolver.mailbox("ghost@contoso.com")
    assert caught.value.message == (
        "The operation couldn't be performed because object 'ghost@contoso.com' couldn't be "
        "found on 'SB1PR01A001DC01.NAMPR01A001.prod.outlook.com'.")
    assert caught.value.exception_type == (
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException")
    with pytest.raises(TenantError) as caught:
        resolver.mailbox("John Smith")
    assert "matches multiple entries" in caught.value.message
    assert caught.value.code == "ManagementObjectAmbiguousException"


def test_users_without_mailbox_are_principals_not_mailboxes(store: TenantStore,
                                                            contoso: Tenant) -> None:
    resolver = store.resolver(contoso)
    assert resolver.principal("nora.ahmed@contoso.com").display_name == "Nora Ahmed"
    with pytest.raises(TenantError):
        resolver.mailbox("nora.ahmed@contoso.com")


def test_graph_user_id_takes_id_or_upn_only(store: TenantStore, contoso: Tenant) -> None:
    resolver = store.resolver(contoso)
    user = resolver.graph_user("megan.bowen@contoso.com")
    assert resolver.graph_user(user.id) is user
    with pytest.raises(TenantError) as caught:
        resolver.graph_user("Megan Bowen")
    assert caught.value.code == "Request_ResourceNotFound"


def test_resolver_cache_follows_changes(store: TenantStore, contoso: Tenant) -> None:
    from toolkit.sandbox.tenant import mailboxes
    before = store.resolver(contoso)
    with store.write():
        mailboxes.new_shared_mailbox(store, contoso, "Legal Team", alias="legal")
    assert store.resolver(contoso) is not before
    assert store.resolver(contoso).mailbox("legal@contoso.com").name == "Legal Team"
