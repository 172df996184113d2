"""IMAP migration: CSV validation, endpoint tests, and users moving through states."""

from __future__ import annotations

import pytest
from tenant_helpers import FakeClock

from toolkit.sandbox.tenant import licensing, migration
from toolkit.sandbox.tenant.demo import demo_imap_csv
from toolkit.sandbox.tenant.errors import TenantError
from toolkit.sandbox.tenant.imap_folders import gmail_folders
from toolkit.sandbox.tenant.migration import QUEUED_S
from toolkit.sandbox.tenant.model import Tenant
from toolkit.sandbox.tenant.store import TenantStore

HOUR = 3600.0
# What psbridge's --gmail excludes: the folders that only repeat labelled mail.
GMAIL_SYSTEM = ["[Gmail]/All Mail", "[Gmail]/Important", "[Gmail]/Starred", "[Gmail]/Spam",
                "[Gmail]/Trash"]


@pytest.fixture
def gmail(store: TenantStore, contoso: Tenant) -> str:
    migration.new_endpoint(store, contoso, "Gmail", "imap.gmail.com", 993, "Ssl")
    return "Gmail"


def _csv(*rows: str, header: str = "EmailAddress,UserName,Password") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.mark.parametrize(("data", "text"), [
    (_csv("a@contoso.com,a,p", header="EmailAddress,UserName"), 'required column "Password"'),
    (_csv("a@contoso.com,a,p,x", header="EmailAddress,UserName,Password,Extra"),
     'unknown column "Extra"'),
    (_csv("adele.vance@contoso.com,a,p", "Adele.Vance@contoso.com,b,q"),
     "duplicate entry for \"Adele.Vance@contoso.com\" on line 3"),
    (_csv("a@contoso.com,,p"), 'no value in the column "UserName"'),
    (b"", "empty"),
])
def test_csv_validation(data: bytes, text: str) -> None:
    with pytest.raises(TenantError, match=text):
        migration.parse_csv(data)


def test_csv_limits_and_encodings() -> None:
    rows = [f"u{i}@contoso.com,u{i},p" for i in range(50_001)]
    with pytest.raises(TenantError, match="50,000 rows"):
        migration.parse_csv(_csv(*rows))
    with pytest.raises(TenantError, match="10 MB"):
        migration.parse_csv(b"x" * (10 * 1024 * 1024 + 1))
    parsed = migration.parse_csv("EmailAddress,UserName,Password,UserRoot\r\n"
                                 "a@contoso.com,a,p w,/u\r\n".encode("utf-16"))
    assert parsed[0].password == "p w" and parsed[0].user_root == "/u"
    assert migration.parse_csv(_csv("a@contoso.com,a,p,x",
                                    header="EmailAddress,UserName,Password,Extra"),
                               allow_unknown_columns=True)[0].email == "a@contoso.com"


def test_server_availability(contoso: Tenant) -> None:
    assert migration.test_server(contoso, "imap.gmail.com", 993, "ssl").ok
    unknown = migration.test_server(contoso, "imap.nowhere.example", 993, "Ssl")
    assert not unknown.ok
    assert unknown.message == ("The connection to the server 'imap.nowhere.example' could not "
                               "be completed.")
    assert not migration.test_server(contoso, "imap.gmail.com", 143, "Ssl").ok


def test_endpoint_rules(store: TenantStore, contoso: Tenant, gmail: str) -> None:
    with pytest.raises(TenantError, match="already exists"):
        migration.new_endpoint(store, contoso, "gmail", "imap.gmail.com", 993)
    with pytest.raises(TenantError, match="could not be completed"):
        migration.new_endpoint(store, contoso, "Other", "imap.nowhere.example", 993)
    migration.new_endpoint(store, contoso, "Later", "imap.nowhere.example", 993,
                           skip_verification=True)
    migration.set_endpoint(contoso, "Gmail", {"MaxConcurrentMigrations": 5})
    assert contoso.endpoints["Gmail"].max_concurrent_migrations == 5
    migration.new_batch(store, contoso, "B", gmail, demo_imap_csv())
    with pytest.raises(TenantError, match="being used by migration batch"):
        migration.remove_endpoint(contoso, "Gmail")


def test_batch_name_and_duplicates(store: TenantStore, contoso: Tenant, gmail: str) -> None:
    with pytest.raises(TenantError) as caught:
        migration.new_batch(store, contoso, "x" * 65, gmail, demo_imap_csv())
    assert caught.value.message == ("The length of the property is too long. The maximum "
                                    "length is 64 and the length of the value provided is 65.")
    migration.new_batch(store, contoso, "First", gmail, demo_imap_csv())
    with pytest.raises(TenantError, match="already exists in migration batch"):
        migration.new_batch(store, contoso, "Second", gmail, demo_imap_csv())


def _statuses(contoso: Tenant, batch: str) -> dict[str, str]:
    return {u.email: u.status for u in migration.find_users(contoso, batch=batch)}


def test_batch_runs_through_the_states(store: TenantStore, contoso: Tenant, gmail: str,
                                       clock: FakeClock) -> None:
    with store.write():
        migration.new_batch(store, contoso, "Wave1", gmail, demo_imap_csv(),
                            exclude_folders=GMAIL_SYSTEM)
    batch = contoso.batches["Wave1"]
    assert migration.batch_status(contoso, batch) == "Created"
    with store.write():
        migration.start_batch(store, contoso, "Wave1")
    clock.advance(10)
    with store.read():
        assert set(_statuses(contoso, "Wave1").values()) == {"Queued"}
        assert migration.batch_status(contoso, batch) == "Syncing"
    clock.advance(40)
    with store.read():
        assert set(_statuses(contoso, "Wave1").values()) == {"Provisioning"}
    clock.advance(15)
    with store.read():
        statuses = _statuses(contoso, "Wave1")
    assert statuses["lynne.robbins@contoso.com"] == "Failed"
    assert statuses["adele.vance@contoso.com"] == "Syncing"
    lynne = migration.find_users(contoso, "lynne.robbins@contoso.com")[0]
    assert "ImapAuthenticationException" in lynne.error
    clock.advance(HOUR)
    with store.read():
        adele = migration.find_users(contoso, "adele.vance@contoso.com")[0]
        assert adele.status == "Synced" and adele.items_synced == adele.items_total == 40
        assert migration.batch_status(contoso, batch) == "SyncedWithErrors"
    clock.advance(24 * HOUR)
    with store.read():
        assert adele.status == "IncrementalSyncing"
    clock.advance(60)
    with store.read():
        assert adele.status == "Synced"


def test_missing_and_unlicensed_targets_fail(store: TenantStore, contoso: Tenant, gmail: str,
                                             clock: FakeClock) -> None:
    data = _csv("ghost@contoso.com,adele.vance.contoso@gmail.com,adele-app-pw-2024",
                "nora.ahmed@contoso.com,nora.ahmed.contoso@gmail.com,nora-app-pw-2024")
    migration.new_batch(store, contoso, "Targets", gmail, data, auto_start=True,
                        exclude_folders=GMAIL_SYSTEM)
    clock.advance(2 * HOUR)
    with store.read():
        ghost = migration.find_users(contoso, "ghost@contoso.com")[0]
        nora = migration.find_users(contoso, "nora.ahmed@contoso.com")[0]
    assert ghost.status == "Failed" and "MigrationRecipientNotFoundException" in ghost.error
    assert nora.status == "Failed" and "recipient wasn't found" in nora.error
    with store.write():  # license Nora, wait for her mailbox, restart: she syncs
        user = store.resolver(contoso).graph_user("nora.ahmed@contoso.com")
        licensing.set_user_license(store, contoso, user,
                                   ["6fd2c87f-b296-42f0-b197-1e91e994b900"], [])
    clock.advance(120)
    with store.write():
        migration.start_batch(store, contoso, "Targets")
    clock.advance(HOUR)
    with store.read():
        assert nora.status == "Synced" and nora.items_synced == 25


def test_corrected_credentials_retry_only_the_failed_user(
        store: TenantStore, contoso: Tenant, gmail: str, clock: FakeClock) -> None:
    """Set-MigrationBatch -CSVData re-submits rows of the batch's users, Start-MigrationBatch
    retries the failed ones; a user that synced keeps its state and last sync (Microsoft
    Learn: set-migrationbatch, start-migrationbatch; see tests/e2e/test_migration_credentials)."""
    migration.new_batch(store, contoso, "W", gmail, demo_imap_csv(), auto_start=True,
                        exclude_folders=GMAIL_SYSTEM)
    clock.advance(HOUR)
    with store.read():
        adele = migration.find_users(contoso, "adele.vance@contoso.com")[0]
        lynne = migration.find_users(contoso, "lynne.robbins@contoso.com")[0]
        synced_at = adele.last_successful_sync
    assert lynne.status == "Failed" and adele.status == "Synced"
    with pytest.raises(TenantError, match="isn't in migration batch"):  # nothing changes
        migration.set_batch(contoso, "W", None, _csv(
            "lynne.robbins@contoso.com,lynne.robbins.contoso@gmail.com,lynne-app-pw-2024",
            "megan.bowen@contoso.com,megan,pw"))
    assert lynne.password == "lynne-old-password"
    with store.write():
        migration.set_batch(contoso, "W", None, _csv(
            "Lynne.Robbins@contoso.com,lynne.robbins.contoso@gmail.com,lynne-app-pw-2024"))
        migration.start_batch(store, contoso, "W")
    assert adele.status == "Synced"
    clock.advance(HOUR)
    with store.read():
        assert lynne.status == "Synced" and lynne.items_synced > 0 and not lynne.error
        assert adele.status == "Synced" and adele.last_successful_sync == synced_at


def test_stop_start_remove_and_rerun(store: TenantStore, contoso: Tenant, gmail: str,
                                     clock: FakeClock) -> None:
    migration.new_batch(store, contoso, "W", gmail, demo_imap_csv(), auto_start=True,
                        exclude_folders=GMAIL_SYSTEM)
    with pytest.raises(TenantError, match="can't be started"):
        migration.start_batch(store, contoso, "W")
    clock.advance(70)
    with store.write():
        migration.stop_batch(contoso, "W")
    assert migration.batch_status(contoso, contoso.batches["W"]) == "Stopped"
    with pytest.raises(TenantError, match="can't be stopped"):
        migration.stop_batch(contoso, "W")
    with store.write():
        migration.start_batch(store, contoso, "W")
    clock.advance(HOUR)
    with store.read():  # the 40 items copied before the stop are not copied again
        alex = migration.find_users(contoso, "alex.wilber@contoso.com")[0]
        assert alex.status == "Synced" and alex.items_synced == 75 - 40  # 2 of 77 too large
        box = store.resolver(contoso).mailbox("alex.wilber@contoso.com")
        assert sum(box.imported_items.values()) == 75
    with pytest.raises(TenantError, match="no completion step"):
        migration.complete_batch(contoso, "W")
    with store.write():
        migration.remove_batch(contoso, "W")
    assert migration.batch_status(contoso, contoso.batches["W"]) == "Removing"
    clock.advance(60)
    with store.read():
        assert "W" not in contoso.batches and not contoso.migration_users
    migration.new_batch(store, contoso, "Again", gmail, demo_imap_csv(), auto_start=True,
                        exclude_folders=GMAIL_SYSTEM)
    clock.advance(HOUR)
    with store.read():
        again = migration.find_users(contoso, "alex.wilber@contoso.com")[0]
    assert again.status == "Synced" and again.items_synced == 0  # nothing new to move


def test_gmail_duplicates_and_skipped_items(store: TenantStore, contoso: Tenant, gmail: str,
                                           clock: FakeClock) -> None:
    migration.new_batch(store, contoso, "Naive", gmail, demo_imap_csv(), auto_start=True)
    clock.advance(HOUR)
    with store.read():
        adele = migration.find_users(contoso, "adele.vance@contoso.com")[0]
        alex = migration.find_users(contoso, "alex.wilber@contoso.com")[0]
    # Every folder is imported: labelled mail arrives from its label, All Mail, Important...
    assert adele.items_synced == sum(gmail_folders(40).values()) == 91
    assert alex.items_skipped == 2 and alex.items_synced == sum(gmail_folders(77 - 2).values())
    box = store.resolver(contoso).mailbox("adele.vance@contoso.com")
    assert sum(box.imported_items.values()) == 40


def test_migration_speed_scales_time(clock: FakeClock) -> None:
    from toolkit.sandbox.tenant.demo import demo_world
    from toolkit.sandbox.tenant.store import TenantSettings
    store = TenantStore(demo_world(), clock=clock,
                        settings=TenantSettings(migration_speed=1000))
    contoso = store.world.tenants["contoso.onmicrosoft.com"]
    migration.new_endpoint(store, contoso, "Gmail", "imap.gmail.com", 993)
    migration.new_batch(store, contoso, "Fast", "Gmail", demo_imap_csv(), auto_start=True)
    clock.advance(1)
    with store.read():
        assert migration.find_users(contoso, "adele.vance@contoso.com")[0].status == "Synced"


def test_max_concurrent_migrations_queues_the_rest(store: TenantStore, contoso: Tenant,
                                                  clock: FakeClock) -> None:
    migration.new_endpoint(store, contoso, "One", "imap.gmail.com", 993,
                           max_concurrent_migrations=1)
    migration.new_batch(store, contoso, "Serial", "One", demo_imap_csv(), auto_start=True,
                        exclude_folders=GMAIL_SYSTEM)
    clock.advance(QUEUED_S + 1)
    with store.read():
        statuses = sorted(_statuses(contoso, "Serial").values())
    assert statuses == ["Provisioning", "Queued", "Queued"]
    for _ in range(12):  # each store visit moves time on; one user at a time gets a slot
        clock.advance(10 * 60)
        with store.read():
            pass
    assert set(_statuses(contoso, "Serial").values()) == {"Synced", "Failed"}


def test_gmail_folder_rules() -> None:
    from toolkit.sandbox.tenant.imap_folders import copied, excluded
    folders = gmail_folders(100, archived=10)
    assert folders["[Gmail]/All Mail"] == 100
    # "[Gmail]/*" is the folder and every subfolder: Sent Mail and Drafts are lost with it.
    assert excluded("[Gmail]/Sent Mail", ["[Gmail]/*"])
    assert copied(folders, ["[Gmail]/*"]) == folders["INBOX"]
    # psbridge's --gmail set: each message once, except the archived ones (All Mail only).
    assert copied(folders, GMAIL_SYSTEM) == 100 - 10
    legacy = gmail_folders(100, root="[Google Mail]")
    assert copied(legacy, GMAIL_SYSTEM) > 100  # [Gmail] names miss a [Google Mail] account
    assert copied(legacy, [f.replace("[Gmail]", "[Google Mail]") for f in GMAIL_SYSTEM]) == 100
