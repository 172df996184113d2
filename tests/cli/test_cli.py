"""The CLI as a user drives it: output, exit codes, errors with hints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_groups_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in ("task", "profile", "sandbox", "--profile", "--tenant", "--output", "130"):
        assert word in out


def test_help_imports_no_heavy_library() -> None:
    probe = (
        "import sys\n"
        "from toolkit.cli.main import main\n"
        "code = main(['--help'])\n"
        "heavy = [m for m in ('jinja2', 'pypsrp', 'msal', 'tree_sitter', 'rich', 'yaml')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_python_dash_m_works() -> None:
    result = subprocess.run([sys.executable, "-m", "toolkit", "version"], capture_output=True,
                            text=True, check=True)
    assert result.stdout.startswith("psbridge ")


def test_task_list_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--output", "json", "task", "list")
    assert code == 0
    tasks = {t["name"]: t for t in json.loads(out)}
    assert tasks["exchange/list-mailboxes"]["role"] == "helpdesk"
    assert tasks["exchange/list-mailboxes"]["mutates"] is False


def test_task_list_as_csv(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-o", "csv", "task", "list")
    assert code == 0
    assert out.splitlines()[0] == "name,summary,role,mutates,origin"


def test_connect_steps_and_fragments_are_not_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--output", "json", "task", "list")
    assert code == 0
    assert not [t for t in json.loads(out) if t["name"].startswith(("_connect/", "_include/"))]
    code, _, err = run(capsys, "task", "run", "_connect/connect-exchange", "--dry-run")
    assert code == 2 and "not a task" in err
    code, _, err = run(capsys, "task", "run", "_include/row-result", "--dry-run")
    assert code == 2 and "include-only fragment" in err


def test_task_show_prints_metadata_and_script(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "task", "show", "exchange/list-mailboxes")
    assert code == 0
    assert "role: helpdesk" in out
    assert "--- rendered script ---" in out and "Get-Mailbox" in out


def test_task_show_export_writes_quoted_literals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "task", "show", "exchange/list-mailboxes", "--export",
                       "--param", "RecipientTypeDetails=x'; Remove-Mailbox y")
    assert code == 0
    assert "'RecipientTypeDetails' = 'x''; Remove-Mailbox y'" in out


def test_unknown_template_exits_2_with_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "task", "show", "nope/nothing")
    assert code == 2
    assert "error: no template named 'nope/nothing'" in err
    assert "hint: 'psbridge task list'" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "no-such-command")[0] == 2
    assert run(capsys, "--output", "xml", "task", "list")[0] == 2


def test_lint_passes_on_shipped_templates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "task", "lint")
    assert code == 0 and "no problems" in out


def test_lint_failure_exits_2_and_lists_findings(capsys: pytest.CaptureFixture[str],
                                                 isolated_home: Path) -> None:
    folder = isolated_home / "templates" / "custom"
    folder.mkdir(parents=True)
    (folder / "bad.ps1.j2").write_text(
        "{#- psbridge\nname: custom/bad\nsummary: bad\nrole: admin\nmutates: false\n"
        "services: [exchange]\n-#}\nGet-Mailbox -Bogus 1\n")
    code, out, err = run(capsys, "task", "lint", "custom/bad")
    assert code == 2
    assert "custom/bad:1:13: Get-Mailbox has no parameter -Bogus" in out
    assert "1 problem(s)" in err


def test_profile_add_show_remove(capsys: pytest.CaptureFixture[str],
                                 isolated_home: Path) -> None:
    code, out, _ = run(capsys, "profile", "add", "lab", "--endpoint", "https://h:5986/wsman",
                       "--auth", "ntlm", "--username", "svc", "--password-env", "LAB_PW",
                       "--default")
    assert code == 0 and "profile lab saved" in out
    code, out, _ = run(capsys, "-o", "json", "profile", "show")
    shown = json.loads(out)
    assert shown["name"] == "lab" and shown["password"] == "env:LAB_PW"
    code, out, _ = run(capsys, "-o", "json", "profile", "list")
    assert {p["name"]: p["default"] for p in json.loads(out)} == {"lab": "*", "sandbox": ""}
    assert run(capsys, "profile", "remove", "lab")[0] == 0
    assert "password" not in (isolated_home / "config.toml").read_text().replace(
        "password_env", "")


def test_bad_config_file_exits_2_naming_it(capsys: pytest.CaptureFixture[str],
                                           isolated_home: Path) -> None:
    (isolated_home / "config.toml").write_text('[profiles.x]\nendpoint = "https://h"\nauth = 1\n')
    code, _, err = run(capsys, "profile", "list")
    assert code == 2
    assert "config.toml: profile 'x', key 'auth'" in err


def test_global_options_work_after_the_command_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "task", "list", "-o", "json")
    assert code == 0 and json.loads(out)
    code, out, _ = run(capsys, "task", "list", "--output=csv")
    assert code == 0 and out.splitlines()[0] == "name,summary,role,mutates,origin"
    code, out, _ = run(capsys, "-o", "json", "task", "list", "-o", "csv")  # the later one wins
    assert code == 0 and out.startswith("name,summary")
    code, _, err = run(capsys, "task", "list", "--profile", "nosuch", "-v")
    assert code == 0  # task list reads no profile
    code, _, err = run(capsys, "task", "list", "-o", "yaml")
    assert code == 2 and "'yaml' is not one of" in err


def test_tenant_and_profile_work_after_the_command(capsys: pytest.CaptureFixture[str],
                                                   isolated_home: Path) -> None:
    code, _, err = run(capsys, "perms", "who-can-access", "sales@contoso.com", "--tenant",
                       "fabrikam.onmicrosoft.com")
    assert code == 2 and "no permission snapshot of fabrikam.onmicrosoft.com yet" in err
    code, _, err = run(capsys, "perms", "who-can-access", "sales@contoso.com", "--profile",
                       "nosuch")
    assert code == 2 and "no profile named 'nosuch'" in err
    code, _, err = run(capsys, "--profile", "nosuch", "perms", "who-can-access",
                       "sales@contoso.com", "--profile", "sandbox", "--tenant",
                       "fabrikam.onmicrosoft.com")  # the later one wins
    assert code == 2 and "no permission snapshot of fabrikam.onmicrosoft.com" in err


def test_the_sandbox_profile_says_it_is_a_shared_server(capsys: pytest.CaptureFixture[str],
                                                       isolated_home: Path) -> None:
    code, out, _ = run(capsys, "profile", "show", "sandbox", "-o", "json")
    assert code == 0
    endpoint = json.loads(out)["endpoint"]
    assert "shared by every command" in endpoint and "psbridge sandbox stop" in endpoint
    assert "in-process" not in endpoint


def test_a_commands_own_option_wins_over_a_global_of_the_same_name(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "profile", "add", "partner", "--endpoint",
                     "https://mgmt.example.com:5986/wsman", "--tenant", "fabrikam.onmicrosoft.com",
                     "--tenant", "tailspintoys.onmicrosoft.com")
    assert code == 0
    code, out, _ = run(capsys, "profile", "show", "partner", "-o", "json")
    assert code == 0
    assert json.loads(out)["tenants"] == ["fabrikam.onmicrosoft.com",
                                          "tailspintoys.onmicrosoft.com"]


def test_version_option_and_shell_completion_as_the_readme_turns_it_on() -> None:
    version = subprocess.run([sys.executable, "-m", "toolkit", "--version"],
                             capture_output=True, text=True, check=True)
    assert version.stdout.startswith("psbridge ")
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")):
        script = subprocess.run([sys.executable, "-m", "toolkit"], capture_output=True,
                                text=True, check=True,
                                env={**os.environ, "_PSBRIDGE_COMPLETE": f"{shell}_source"})
        assert marker in script.stdout, shell
    words = subprocess.run([sys.executable, "-m", "toolkit"], capture_output=True, text=True,
                           check=True,
                           env={**os.environ, "_PSBRIDGE_COMPLETE": "bash_complete",
                                "COMP_WORDS": "psbridge perms who", "COMP_CWORD": "2"})
    assert "who-can-access" in words.stdout
