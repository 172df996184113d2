"""Persistence (atomic, reloaded on start) and thread safety of the tenant store."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from tenant_helpers import FakeClock

from toolkit.sandbox.tenant import licensing, permissions
from toolkit.sandbox.tenant.demo import CONTOSO, demo_world
from toolkit.sandbox.tenant.store import StateFileError, TenantSettings, TenantStore


def test_state_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "state.json"
    store = TenantStore.open(demo_world, state_path=state, clock=clock)
    with store.write() as world:
        contoso = world.tenants[CONTOSO]
        permissions.add_mailbox_permission(store, contoso, "sales", "lee.gu@contoso.com",
                                           ["FullAccess"])
        user = store.resolver(contoso).graph_user("nora.ahmed@contoso.com")
        licensing.set_user_license(store, contoso, user,
                                   ["6fd2c87f-b296-42f0-b197-1e91e994b900"], [])
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left

    def never() -> None:
        raise AssertionError("the seed must not be used when state exists")

    again = TenantStore.open(never, state_path=state, clock=clock,  # type: ignore[arg-type]
                             settings=TenantSettings(mailbox_delay_s=5))
    with again.read() as world:
        contoso = world.tenants[CONTOSO]
        box = again.resolver(contoso).mailbox("sales")
        assert "lee.gu@contoso.com" in [r.user for r in permissions.mailbox_aces(contoso, box)]
        assert contoso.users[user.id].mailbox_due is not None
    clock.advance(10)
    with again.read() as world:  # the pending mailbox still arrives after the restart
        assert world.tenants[CONTOSO].mailbox_of(user.id) is not None
    assert json.loads(state.read_text())["format"] == 1
    assert state.stat().st_mode & 0o077 == 0  # it holds passwords


def test_unreadable_state_file_is_reported(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    with pytest.raises(StateFileError, match="cannot read"):
        TenantStore.open(demo_world, state_path=state)
    state.write_text('{"format": 99}')
    with pytest.raises(StateFileError, match="not a psbridge sandbox state file"):
        TenantStore.open(demo_world, state_path=state)


def test_concurrent_writers_lose_nothing(store: TenantStore) -> None:
    contoso = store.world.tenants[CONTOSO]
    trustees = [u.upn for u in contoso.users.values() if u.enabled][:16]

    def grant(upn: str) -> None:
        for mailbox in ("sales", "support", "info", "finance"):
            with store.write():
                try:
                    permissions.add_recipient_permission(store, contoso, mailbox, upn,
                                                         ["SendAs"], lambda _: None)
                except Exception as exc:  # pragma: no cover - a failure shows in the assert
                    raise AssertionError(exc) from exc

    threads = [threading.Thread(target=grant, args=(upn,)) for upn in trustees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    box = store.resolver(contoso).mailbox("finance")
    granted = {r.trustee for r in permissions.recipient_aces(contoso, box)}
    assert set(trustees) <= granted


def test_secrets_stay_out_of_reprs(store: TenantStore) -> None:
    contoso = store.world.tenants[CONTOSO]
    text = repr(store.world.accounts) + repr(store.world.apps) + repr(contoso.imap_sources)
    text += repr(list(contoso.users.values()))
    assert "Sandbox-Admin-1!" not in text and "sandbox-app-secret" not in text
    assert "app-pw-2024" not in text


def test_random_seed_makes_new_ids_repeatable(clock: FakeClock) -> None:
    first = TenantStore(demo_world(), clock=clock, random_seed=3)
    second = TenantStore(demo_world(), clock=clock, random_seed=3)
    assert [first.new_guid() for _ in range(3)] == [second.new_guid() for _ in range(3)]
