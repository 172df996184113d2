"""The API behind ``psbridge store``, ``worker``, ``sandbox`` and ``jobs``, called as a script
would: typed results, and the structured errors the CLI turns into exit codes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from services import postgres_database

from toolkit.api import JobEvent, Workspace
from toolkit.api.sandbox import (
    approve_sign_in,
    start_sandbox,
    stop_shared_sandbox,
    write_sandbox_profile,
)
from toolkit.api.store import check_store, migrate_store, store_status
from toolkit.api.workers import worker_app
from toolkit.core.errors import ConfigError, InputError


def test_a_local_store_is_migrated_once_and_reports_its_version(isolated_home: Path) -> None:
    first = migrate_store()
    assert [m.version for m in first.applied] == list(range(1, first.schema + 1))
    assert first.store == str(isolated_home / "data" / "jobs.sqlite3")
    again = migrate_store()
    assert (again.applied, again.schema) == ([], first.schema)
    status = store_status()
    assert (status.kind, status.schema, status.needed) == ("sqlite", first.schema, first.schema)
    check_store()  # a local store at its version: nothing to refuse


def test_a_shared_store_behind_is_refused_until_migrated(isolated_home: Path) -> None:
    with postgres_database() as url:
        (isolated_home / "config.toml").write_text(f'[store]\nurl = "{url}"\n')
        with pytest.raises(ConfigError, match="has schema version 0") as refused:
            check_store()
        assert "psbridge store migrate" in (refused.value.hint or "")
        assert store_status().schema == 0  # a shared store is not upgraded by reading it
        done = migrate_store()
        assert done.applied and done.store.endswith(url.rsplit("/", 1)[-1])
        check_store()
        status = store_status()
        assert (status.kind, status.schema) == ("postgresql", status.needed)


def test_a_worker_needs_a_broker_and_two_slots_for_beat(isolated_home: Path) -> None:
    with pytest.raises(InputError, match="--beat needs --concurrency 2"):
        worker_app(concurrency=1, beat=True)
    with pytest.raises(ConfigError, match=r"need a \[queue\] broker"):
        worker_app(concurrency=3)


def test_a_served_sandbox_takes_its_options_and_writes_a_profile(isolated_home: Path) -> None:
    running = start_sandbox(host="127.0.0.1", port=0, https=True, seed="demo",
                            host_modules={"PowerShellGet": "3.0.0"},
                            without_modules=["Microsoft.Graph.Users.Actions"])
    try:
        assert running.https and running.url.startswith("https://127.0.0.1:")
        assert running.username == "sandbox-admin" and running.password
        modules = running.options.host_modules  # type: ignore[attr-defined]
        assert modules["PowerShellGet"] == "3.0.0"
        assert "Microsoft.Graph.Users.Actions" not in modules
        written = write_sandbox_profile("lab", running)
        profile = tomllib.loads(written.read_text())["profiles"]["lab"]
        assert (profile["endpoint"], profile["ca_bundle"]) == (running.url,
                                                               str(running.ca_cert))
        password_file = Path(profile["password_file"])
        assert password_file.read_text() == running.password
        assert password_file.stat().st_mode & 0o077 == 0
    finally:
        running.stop()


def test_a_bad_seed_is_bad_input(isolated_home: Path) -> None:
    with pytest.raises(InputError, match="bad seed") as refused:
        start_sandbox(host="127.0.0.1", port=0, seed="large:many")
    assert refused.value.hint == "Fix the seed file, or use --seed demo."


def test_approve_needs_a_sandbox_that_keeps_running(isolated_home: Path) -> None:
    with pytest.raises(InputError, match="approve needs a sandbox that keeps running"):
        approve_sign_in("ABCD-EFGH")  # the default profile: the embedded sandbox


def test_jobs_report_where_they_ran_and_the_shared_sandbox_stops(isolated_home: Path) -> None:
    assert stop_shared_sandbox() is None  # nothing started yet
    events: list[JobEvent] = []
    with Workspace(progress=events.append) as ws:
        run = ws.mailboxes.protocols(mailboxes=["adele.vance@contoso.com"], pop=False)
        assert {(e.profile, e.tenant) for e in events} == {("sandbox", ws.target.tenant)}
        report = ws.jobs.report(run.job.id[:8])
        assert report.job.id == run.job.id
        assert [(r.row, r.key, r.status) for r in report.rows] == [
            (1, "adele.vance@contoso.com", "changed")]
        assert ws.jobs.report(run.job.id, only_failed=True).rows == []
        (listed,) = ws.jobs.listing()
        assert (listed.job.id, dict(listed.counts)) == (run.job.id, {"changed": 1})
    stopped = stop_shared_sandbox()
    assert stopped is not None and stopped.pid > 0 and stopped.url.startswith("http")
    assert stop_shared_sandbox() is None
