"""The API the ``task``, ``profile`` and ``users`` commands are built on, called as a
script would: ``ws.tasks``, the functions of ``toolkit.api.profiles`` and ``ws.users``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_cli import TEMPLATES, rows_csv

from toolkit import Workspace
from toolkit.api import profiles
from toolkit.core.errors import InputError


def changed(sandbox: Any) -> list[tuple[str, str]]:
    return sorted((c["parameters"]["Identity"], c["parameters"]["CustomAttribute1"])
                  for c in sandbox.commands("Set-Mailbox") if c["ok"])


def test_a_row_driven_template_is_planned_from_a_csv_and_run_as_a_job(
        serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSBRIDGE_TEMPLATES", str(TEMPLATES))
    sandbox = serve()
    source = rows_csv(tmp_path / "rows.csv", "Mailbox,Value",
                      ["sales@contoso.com,EMEA", "info@contoso.com,Americas"])
    with Workspace("lab") as ws:
        assert "custom/set-attribute" in {m.name for m in ws.tasks.templates()}
        with pytest.raises(InputError, match="row-driven"):
            ws.tasks.plan("custom/set-attribute")
        request = ws.tasks.plan("custom/set-attribute", csv=source)
        assert request.plan is not None and request.plan.total == 2
        assert "'sales@contoso.com'" in request.script()  # the rows written in, for review
        assert changed(sandbox) == []  # planning sends nothing
        run = ws.tasks.run(request)
        assert (run.summary.counts["changed"], run.summary.counts["failed"]) == (2, 0)
        again = ws.tasks.run(ws.tasks.plan("custom/set-attribute", csv=source))
        assert again.summary.counts["unchanged"] == 2
        assert {o.status for o in ws.jobs.outcomes(again.job.id)} == {"unchanged"}
    assert changed(sandbox) == [("info@contoso.com", "Americas"), ("sales@contoso.com", "EMEA")]


def test_templates_are_linted_and_exported_without_connecting(isolated_home: Path) -> None:
    with Workspace("no-such-profile") as ws:  # never resolved: nothing connects
        report = ws.tasks.lint(["exchange/list-mailboxes"])
        assert list(report.templates) == ["exchange/list-mailboxes"]
        assert list(report.findings) == []
        script = ws.tasks.export("exchange/list-mailboxes",
                                 {"RecipientTypeDetails": "SharedMailbox"})
        assert "'SharedMailbox'" in script
        with pytest.raises(InputError, match="not a task"):
            ws.tasks.plan("_connect/exchange")


def test_profiles_are_added_listed_described_and_removed(isolated_home: Path) -> None:
    path = profiles.add_profile("lab2", endpoint="https://mgmt.contoso.com:5986/wsman",
                                auth="ntlm", username="CONTOSO\\svc",
                                password_env="LAB_PASSWORD", delegated=True, graph=True,
                                make_default=True)
    assert path == isolated_home / "config.toml"
    listed = {p.name: p for p in profiles.listed_profiles()}
    assert listed["lab2"].default and listed["lab2"].auth == "ntlm"
    assert listed["sandbox"].auth == "" and not listed["sandbox"].default
    described = profiles.describe_profile("lab2")
    assert described["password"] == "env:LAB_PASSWORD"
    assert described["exchange"]["app_id"] == profiles.EXCHANGE_MODULE_CLIENT
    assert described["graph"]["app_id"] == profiles.GRAPH_MODULE_CLIENT
    assert profiles.remove_profile("lab2") == path
    assert "lab2" not in {p.name for p in profiles.listed_profiles()}


def test_a_profile_is_checked_end_to_end(serve: Any) -> None:
    serve()
    check = profiles.check_profile("lab")
    assert check.profile == "lab" and not check.failed
    results = {line.check: line.result for line in check.lines}
    assert results["management host"] == "ok" and results["round trip"] == "ok"


def test_the_tenants_skus_and_a_password_reset(serve: Any) -> None:
    sandbox = serve()
    with Workspace("lab") as ws:
        skus = {s.part_number: s for s in ws.users.licenses()}
        assert "ENTERPRISEPACK" in skus and skus["ENTERPRISEPACK"].friendly_name
        with pytest.raises(InputError, match="no user"):
            ws.users.reset_password("nosuch@contoso.com")
        reset = ws.users.reset_password("adele.vance@contoso.com", temporary=True)
    assert (reset.user, reset.must_change) == ("adele.vance@contoso.com", True)
    assert len(reset.password) == 16 and reset.password not in repr(reset)
    assert [c["ok"] for c in sandbox.commands("Update-MgUser")] == [True]  # only the known user
