"""The Python API: the README's example as written, and what a script meets through it
(typed results, progress events, the structured errors, nothing sent on bad input)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from toolkit import Workspace
from toolkit.api import JobEvent
from toolkit.core.errors import InputError, PsbridgeError

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def readme_example() -> str:
    section = README.split("## Python API", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the Python API section has no example"
    return found.group(1)


def test_the_readme_example_runs_against_the_embedded_sandbox(
        isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = compile(readme_example(), "README.md", "exec")
    exec(code, {})
    first = capsys.readouterr().out
    assert "adele.vance@contoso.com FullAccess grant" in first  # read by the audit
    assert "changed 1 unchanged 0 failed 0" in first
    exec(code, {})  # the same grant again: the tenant already has it
    second = capsys.readouterr().out
    assert "megan.bowen@contoso.com SendAs grant" in second
    assert "changed 0 unchanged 1 failed 0" in second


def sent(sandbox: Any, cmdlet: str) -> list[dict[str, Any]]:
    return [c["parameters"] for c in sandbox.commands(cmdlet) if c["ok"]]


def test_apply_rows_reports_progress_and_sends_each_change_once(serve: Any) -> None:
    sandbox = serve()
    events: list[JobEvent] = []
    rows = [{"Mailbox": "info@contoso.com", "Trustee": "megan.bowen@contoso.com",
             "Right": "FullAccess", "AutoMapping": "false"},
            {"Mailbox": "sales@contoso.com", "Trustee": "adele.vance@contoso.com",
             "Right": "SendAs"},  # already held
            {"Mailbox": "sales@contoso.com", "Trustee": "alex.wilber@contoso.com",
             "Right": "FullAccess", "Action": "revoke"}]
    with Workspace("lab", progress=events.append) as ws:
        planned = ws.perms.apply(rows, dry_run=True)
        assert (len(planned.plan.changes), planned.unchanged, planned.run) == (2, 1, None)
        assert not sent(sandbox, "Add-MailboxPermission")
        result = ws.perms.apply(rows)
        assert (result.changed, result.unchanged, result.failed) == (2, 1, 0)
        assert result.run is not None
        job = result.run.job
        assert {o.status for o in ws.jobs.outcomes(job.id)} == {"changed", "unchanged"}
        assert ws.jobs.recent(1)[0].id == job.id
    assert events[0].kind == "started" and events[0].total == 2
    assert sum(len(e.results) for e in events if e.kind == "rows") == 2
    assert [(p["Identity"], p["User"], p.get("AutoMapping"))
            for p in sent(sandbox, "Add-MailboxPermission")] == [
        ("info@contoso.com", "megan.bowen@contoso.com", False)]
    assert [p["User"] for p in sent(sandbox, "Remove-MailboxPermission")] == [
        "alex.wilber@contoso.com"]


def test_bad_input_raises_the_structured_error_and_sends_nothing(serve: Any) -> None:
    sandbox = serve()
    with Workspace("lab") as ws:
        with pytest.raises(InputError) as bad_rows:
            ws.perms.apply([{"Mailbox": "not an address", "Trustee": "x@contoso.com",
                             "Right": "FullAccess"},
                            {"Mailbox": "info@contoso.com", "Trustee": "x@contoso.com",
                             "Right": "ReadEverything"}])
        assert "rows:1: Mailbox" in bad_rows.value.message  # every problem, by row
        assert "rows:2: Right" in bad_rows.value.message
        with pytest.raises(InputError) as bad_right:
            ws.perms.grant("sales@contoso.com", "adele.vance@contoso.com",
                           rights=["RemoveSendAs"])
        assert bad_right.value.exit_code == 2 and "perms revoke" in (bad_right.value.hint or "")
    assert sandbox.commands() == []
    with Workspace("lab") as ws, pytest.raises(PsbridgeError) as unknown:
        ws.perms.grant("nobody@contoso.com", "adele.vance@contoso.com", rights=["SendAs"])
    assert unknown.value.exit_code == 2 and "nobody@contoso.com" in unknown.value.message
    assert not sent(sandbox, "Add-RecipientPermission")


def test_activate_hands_each_password_over_once_and_waits_for_the_mailbox(
        serve: Any, tmp_path: Path, isolated_home: Path) -> None:
    sandbox = serve("--mailbox-delay-s", "2")
    hires = tmp_path / "hires.csv"
    hires.write_text("UserPrincipalName,UsageLocation,Licenses,Aliases\n"
                     "nora.ahmed@contoso.com,,ENTERPRISEPACK,nora@contoso.com\n"
                     "new.hire@contoso.com,US,ENTERPRISEPACK,\n", encoding="utf-8")
    handed: list[tuple[str, str]] = []
    with Workspace("lab") as ws:
        planned = ws.users.activate(hires, usage_location="DE", dry_run=True)
        assert (planned.runs, planned.request.refused) == ([], [])
        assert not sandbox.commands("New-MgUser")
        result = ws.users.activate(hires, usage_location="DE", mailbox_timeout=60,
                                   on_password=lambda user, pw: handed.append((user, pw)))
    assert len(result.runs) == 2 and result.waiting == [] and result.failed == 0
    assert sorted(user for user, _ in handed) == ["new.hire@contoso.com",
                                                  "nora.ahmed@contoso.com"]  # once each
    assert result.passwords == {}  # the sink got them
    created = [p["UserPrincipalName"] for p in sent(sandbox, "New-MgUser")]
    assert created == ["new.hire@contoso.com"]
    for _, password in handed:  # neither the job store nor the spool keeps them
        for path in isolated_home.rglob("*"):
            if path.is_file():
                assert password.encode() not in path.read_bytes(), path


def test_a_migration_starts_once_and_reports_its_users(serve: Any, tmp_path: Path) -> None:
    from toolkit.tasks.migration.batches import MigrationOptions

    sandbox = serve()
    source = tmp_path / "imap.csv"
    source.write_text("EmailAddress,UserName,Password\n"
                      "adele.vance@contoso.com,adele.vance.contoso@gmail.com,"
                      "adele-app-pw-2024\n", encoding="utf-8")
    gmail = MigrationOptions(gmail=True)
    with Workspace("lab") as ws:
        planned = ws.migrations.plan(source, batch="api-wave", options=gmail)
        assert [len(b.rows) for b in planned.plan.batches] == [1]
        run = ws.migrations.start(source, batch="api-wave", options=gmail)
        assert run is not None and run.summary.counts["failed"] == 0
        (batch,) = ws.migrations.status(["api-wave"])
        assert [u.email for u in batch.users] == ["adele.vance@contoso.com"]
        assert ws.migrations.start(source, batch="api-wave", options=gmail) is None  # exists
    assert len(sent(sandbox, "New-MigrationBatch")) == 1
