"""Two agents on one PostgreSQL store, and a store whose schema is behind.

The store is a PostgreSQL database of the test's own (tests/services.py: skipped with the
reason when unreachable, failed under CI=true).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from e2e_cli import Cli, rows_csv
from services import postgres_database


@pytest.fixture
def store_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def agent_cli(cli: Cli, home: Path, store: str) -> Cli:
    """Another agent: its own config and data folder, the same store."""
    home.mkdir()
    (home / "config.toml").write_text(f'[store]\nurl = "{store}"\n', encoding="utf-8")
    return Cli({**cli.env, "PSBRIDGE_CONFIG": str(home / "config.toml"),
                "PSBRIDGE_DATA": str(home / "data")})


def test_a_store_behind_is_refused_until_migrated(cli: Cli, store_url: str,
                                                  tmp_path: Path) -> None:
    agent = agent_cli(cli, tmp_path / "agent", store_url)
    refused = agent("jobs", "list", check=2)
    assert "has schema version 0; this psbridge needs version" in refused.stderr
    assert "psbridge store migrate" in refused.stderr
    migrated = agent("store", "migrate", check=0)
    assert "applied 1:" in migrated.stdout and "applied 2:" in migrated.stdout
    again = agent("store", "migrate", check=0)
    assert "already up to date" in again.stdout
    (status,) = agent.json("store", "status")
    assert status["kind"] == "postgresql" and status["schema"] == status["needed"]
    assert agent.json("jobs", "list") == []


def test_two_agents_see_each_others_jobs_and_snapshots(  # type: ignore[no-untyped-def]
        cli: Cli, serve: Any, store_url: str, tmp_path: Path, isolated_home: Path) -> None:
    alice = cli
    (isolated_home / "config.toml").write_text(f'[store]\nurl = "{store_url}"\n')
    alice("store", "migrate", check=0)
    serve()
    config = isolated_home / "config.toml"
    document = tomlkit.parse(config.read_text())
    document["profiles"]["lab"]["agent"] = "alice"  # type: ignore[index]
    config.write_text(tomlkit.dumps(document))
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value", ["info@contoso.com,I-1"])
    alice("--profile", "lab", "task", "run", "custom/set-attribute", "--csv", str(source),
          check=0)
    alice("--profile", "lab", "perms", "audit", "--all", check=0)
    bob = agent_cli(cli, tmp_path / "bob", store_url)
    (job,) = bob.json("jobs", "list")
    assert job["agent"] == "alice" and job["status"] == "completed"
    assert [j["id"] for j in bob.json("jobs", "list", "--agent", "alice")] == [job["id"]]
    assert bob.json("jobs", "list", "--agent", "bob") == []
    (row,) = bob.json("jobs", "show", job["id"])
    assert row["key"] == "info@contoso.com" and row["status"] == "changed"
    (snapshot,) = bob.json("--tenant", "contoso.onmicrosoft.com", "perms", "snapshots")
    assert snapshot["tenant"] == "contoso.onmicrosoft.com" and snapshot["mailboxes"] > 0
    holders = bob.json("--tenant", "contoso.onmicrosoft.com", "perms", "who-can-access",
                       "sales@contoso.com")
    assert holders, "bob reads alice's snapshot without connecting anywhere"
