"""State is written once per pipeline, and at once outside pipelines."""

from __future__ import annotations

from pathlib import Path

from toolkit.sandbox.tenant.demo import demo_world
from toolkit.sandbox.tenant.store import TenantStore, load_state


def test_changes_inside_a_pipeline_are_written_once_at_its_end(tmp_path: Path,
                                                               monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = TenantStore(demo_world(), state_path=tmp_path / "state.json")
    writes: list[int] = []
    real_save = store.save
    monkeypatch.setattr(store, "save", lambda: (writes.append(1), real_save()))
    with store.deferred_saves():
        for name in ("a", "b", "c"):
            with store.write() as world:
                world.accounts[0].password = name
        assert writes == []
    assert writes == [1]
    assert load_state(tmp_path / "state.json").accounts[0].password == "c"


def test_changes_outside_a_pipeline_are_written_at_once(tmp_path: Path) -> None:
    store = TenantStore(demo_world(), state_path=tmp_path / "state.json")
    with store.write() as world:
        world.accounts[0].password = "now"
    assert load_state(tmp_path / "state.json").accounts[0].password == "now"
