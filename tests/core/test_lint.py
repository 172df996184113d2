"""Template lint: shipped templates pass; each kind of mistake is reported with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.core.errors import TemplateError
from toolkit.core.lint import (
    COMMA_LIST_HINT,
    DIGIT_PARAMETER_HINT,
    lint_template,
    resolve_parameter,
)
from toolkit.core.templates import TemplateCatalog

HEADER = """{#- psbridge
name: %s
summary: lint test
role: admin
mutates: true
services: [exchange]
params:
  Mailbox: {type: string, required: true}
-#}
"""


def lint_source(tmp_path: Path, body: str) -> list[str]:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / "t.ps1.j2").write_text(HEADER % "t" + body, encoding="utf-8")
    catalog = TemplateCatalog(folder, include_builtin=False)
    return [str(f) for f in lint_template(catalog, "t")]


def test_every_shipped_template_lints_clean() -> None:
    catalog = TemplateCatalog(Path("/nonexistent"))
    names = catalog.names(include_internal=True)
    assert names, "no built-in templates found"
    problems = [str(f) for name in names for f in lint_template(catalog, name)]
    assert problems == []


def test_a_correct_template_passes(tmp_path: Path) -> None:
    body = """param([string]$Mailbox)
function Write-Row {
    param($Status)
    [pscustomobject]@{ Status = $Status }
}
Add-MailboxPermission -Identity $Mailbox -User 'x' -AccessRights FullAccess -AutoMap:$false -Confirm:$false
Get-MailboxPermission -Id $Mailbox | Where-Object { -not $_.IsInherited } | Select-Object @('User')
Write-Row -Status 'changed'
"""
    assert lint_source(tmp_path, body) == []


def test_unknown_command_and_parameter_are_reported_with_line(tmp_path: Path) -> None:
    body = "param([string]$Mailbox)\nGet-Mailboxx -Identity $Mailbox\nGet-Mailbox -Idenity $Mailbox\n"
    problems = lint_source(tmp_path, body)
    assert any(p.startswith("t:2:1: 'Get-Mailboxx' is neither") for p in problems), problems
    assert "t:3:13: Get-Mailbox has no parameter -Idenity" in problems


def test_ambiguous_prefix_is_reported(tmp_path: Path) -> None:
    problems = lint_source(tmp_path, "param([string]$Mailbox)\nAdd-MailboxPermission -In 'x'\n")
    assert any("-In is ambiguous for Add-MailboxPermission" in p for p in problems), problems


def test_unquoted_comma_list_gets_the_array_hint(tmp_path: Path) -> None:
    problems = lint_source(tmp_path, "param([string]$Mailbox)\nGet-Mailbox | Select-Object Name, Size\n")
    assert any(COMMA_LIST_HINT in p for p in problems), problems


def test_a_script_calling_exchange_and_graph_cmdlets_is_reported_and_refused(
        tmp_path: Path) -> None:
    body = "param([string]$Mailbox)\nGet-Mailbox -Identity $Mailbox\nGet-MgUser -UserId $Mailbox\n"
    problems = lint_source(tmp_path, body)
    assert any(p.startswith("t:3:1: calls Get-MgUser (graph) and Get-Mailbox (exchange): a "
                            "script runs in one runspace") for p in problems), problems
    assert any(p.startswith("t:3:1: calls Get-MgUser (graph) but its metadata's services do "
                            "not list graph") for p in problems), problems
    with pytest.raises(TemplateError, match="calls Get-MgUser"):
        TemplateCatalog(tmp_path / "templates", include_builtin=False).render("t")


def test_a_fragment_mixing_services_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "_include"
    folder.mkdir(parents=True)
    (folder / "both.ps1.j2").write_text("Get-Mailbox\nUpdate-MgUser -UserId 'x'\n")
    catalog = TemplateCatalog(tmp_path / "templates", include_builtin=False)
    problems = [str(f) for f in lint_template(catalog, "_include/both")]
    assert [p for p in problems if "a script runs in one runspace" in p], problems


def test_param_block_must_match_metadata(tmp_path: Path) -> None:
    problems = lint_source(tmp_path, "param([string]$Identity)\nGet-Mailbox -Identity $Identity\n")
    assert any("metadata lists parameter Mailbox" in p for p in problems)
    assert any("param() declares $Identity" in p for p in problems)


def test_rendering_errors_become_findings(tmp_path: Path) -> None:
    problems = lint_source(tmp_path, "param([string]$Mailbox)\nGet-Mailbox {{ x }}\n")
    assert len(problems) == 1 and "'x' is undefined" in problems[0]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("Identity", "Identity"), ("identity", "Identity"), ("AccessR", "AccessRights"),
     ("ea", "ErrorAction"), ("cf", "Confirm")],
)
def test_parameter_resolution_follows_powershell(written: str, canonical: str) -> None:
    assert resolve_parameter("Add-MailboxPermission", written) == canonical


def test_parameter_ending_in_a_digit_gets_the_splatting_hint(tmp_path: Path) -> None:
    problems = lint_source(tmp_path, "param([string]$Mailbox)\nSet-Mailbox -Identity $Mailbox -CustomAttribute1 'x'\n")
    assert any(DIGIT_PARAMETER_HINT in p for p in problems), problems
