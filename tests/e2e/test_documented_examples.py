"""Every psbridge example in README.md and in every command's ``--help`` runs as written.

The examples are parsed out of the README's code blocks and out of each command's help
text, then run in order, as a user would type them, against a served sandbox that is the
default profile (``lab``, with the migration service sped up so ``--watch`` ends). The files
they name (``grants.csv``, ``users.csv``, ...) are written in the working folder first; the
few placeholders a user must replace (a job id, snapshot numbers) are replaced with real
ones. An example that cannot run here is listed in SKIPPED with the reason.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import test_distributed
from e2e_cli import TEMPLATES, Cli, serve_sandbox
from test_users import helpdesk_profile

from toolkit.cli.main import cli as root_command
from toolkit.sandbox.process import spawn_sandbox
from toolkit.sandbox.server import SandboxUnavailable

ROOT = Path(__file__).resolve().parents[2]

# distributed example -> the test of tests/e2e/test_distributed.py that runs the command
# (`worker --concurrency 4`: with its own concurrency)
DISTRIBUTED = {
    "psbridge worker --concurrency 4": "test_the_connection_cap_holds_across_workers",
    "psbridge worker --beat": "test_a_beat_worker_audits_on_schedule_and_posts_the_drift",
    "psbridge perms audit --all --all-tenants --distributed":
        "test_an_all_tenants_audit_spreads_over_two_workers",
    "psbridge perms diff --all-tenants --distributed":
        "test_an_all_tenants_diff_on_two_workers_reports_like_a_local_one",
    "psbridge perms apply grants.csv --distributed":
        "test_perms_apply_distributed_grants_each_row_once_on_both_workers",
    "psbridge task run custom/set-attribute --csv rows.csv --distributed":
        "test_a_distributed_job_runs_on_the_workers_and_reports_like_a_local_one",
    "psbridge users activate new-hires.csv --credentials-out creds.csv --distributed":
        "test_users_activate_distributed_activates_each_user_once_and_hands_over_the_passwords",
}

# example (as normalised by `commands`) -> why it does not run in this test
SKIPPED = {
    "psbridge [--profile NAME] [--tenant TENANT] [--output table|json|csv] [-v] [--traceback] "
    "COMMAND": "the synopsis of the global options, not a command",
    "_PSBRIDGE_COMPLETE=fish_source psbridge | source": "shell set-up for completion: "
    "tests/cli/test_cli.py checks the script psbridge prints",
    "psbridge --profile lab-delegated task run ...": "a device-code sign-in waiting for "
    "approval from another terminal: tests/e2e/test_sign_in.py runs it",
    "psbridge --profile lab sandbox approve ABCD-EFGH": "needs a device code that is "
    "waiting: tests/e2e/test_sign_in.py runs it",
    "psbridge migrate imap test --server imap.gmail.com --user ann@gmail.com "
    "--password-env PW": "signs in to the real imap.gmail.com from this machine",
    "IMAP_PW=... psbridge migrate imap test --server imap.gmail.com --user ann@gmail.com "
    "--password-env IMAP_PW": "signs in to the real imap.gmail.com "
    "from this machine",
    "psbridge --profile partner --tenant fabrikam.com users activate new-hires.csv": "a "
    "partner agent's delegated profile: tests/e2e/test_partner_tenants.py signs in as one",
    "psbridge --profile partner --tenant 7b2e9d4c-1a3f-4e8b-8d6c-5f0a2c9e3b72 perms audit "
    "--all": "a partner agent's delegated profile: tests/e2e/test_partner_tenants.py",
    **{example: "needs a shared store, a broker ([store], [queue]) and running workers: "
       f"tests/e2e/test_distributed.py::{test} runs the command"
       for example, test in DISTRIBUTED.items()},
}

# Exit codes other than 0 that an example is documented to give on the demo tenant.
EXPECTED_EXIT = {
    "psbridge perms diff --baseline approved.csv": 3,  # "exit 3 when it differs"
    "psbridge perms diff --baseline approved.csv --fix --plan fix.csv": 3,
    "psbridge perms diff --baseline approved.csv --fix --plan fix.csv --apply": 3,
    # earlier examples revoked grants: drift (and hooks.example.com does not resolve here)
    "psbridge perms diff --notify-webhook https://hooks.example.com/psbridge": 3,
    "psbridge perms diff --all-tenants --notify-webhook https://hooks.example.com/psbridge": 3,
    # the demo tenant's EMS seats run out: the users beyond them are refused
    "psbridge users license add --sku EMS --where-license ENTERPRISEPACK": 1,
    "psbridge users license add --sku EMS --where-license ENTERPRISEPACK --dry-run": 1,
    "psbridge migrate imap status wave1 --watch": 1,  # the demo's Lynne has a wrong password
    "psbridge migrate imap status gmail-wave1 --watch": 1,
    "psbridge migrate imap test --server mail.example.com --port 143 --security tls": 1,
}

FILES = {
    "grants.csv": "Mailbox,Trustee,Right,Action,AutoMapping\n"
                  "sales@contoso.com,megan.bowen@contoso.com,FullAccess,grant,false\n"
                  "info@contoso.com,alex.wilber@contoso.com,GrantSendOnBehalfOf,,\n",
    "fabrikam.csv": "Mailbox,Trustee,Right\noffice@fabrikam.com,ana.bowman@fabrikam.com,SendAs\n",
    "approved.csv": "Mailbox,Trustee,Right\nsales@contoso.com,adele.vance@contoso.com,FullAccess\n",
    "users.csv": "EmailAddress,UserName,Password\n"
                 "adele.vance@contoso.com,adele.vance.contoso@gmail.com,adele-app-pw-2024\n"
                 "lynne.robbins@contoso.com,lynne.robbins.contoso@gmail.com,lynne-old-pw\n",
    "fixed.csv": "EmailAddress,UserName,Password\n"
                 "lynne.robbins@contoso.com,lynne.robbins.contoso@gmail.com,lynne-app-pw-2024\n",
    "legacy-pop.csv": "SourceIdentity,SourceServer,SourceLoginID,SourcePassword,TargetIdentity\n"
                      "alex.wilber,pop.gmail.com,alex.wilber.contoso@gmail.com,"
                      "alex-app-pw-2024,alex.wilber@contoso.com\n",
    "clients.csv": "Mailbox,Pop,Imap\nadele.vance@contoso.com,off,\n"
                   "alex.wilber@contoso.com,on,on\n",
    "new-hires.csv": "UserPrincipalName,DisplayName,FirstName,LastName,UsageLocation\n"
                     "nora.ahmed@contoso.com,,,,\nnew.hire@contoso.com,New Hire,New,Hire,\n",
    "leavers.csv": "UPN\nalex.wilber@contoso.com\n",
    "sales-team.csv": "UPN\nadele.vance@contoso.com\n",
    "rows.csv": "Mailbox,Value\nsales@contoso.com,Sales\ninfo@contoso.com,Info\n",
}
FILES["legacy.csv"] = FILES["legacy-pop.csv"]


@dataclass
class Example:
    text: str
    source: str


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with their ``\\`` continuations joined."""
    pending = ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].strip() + " "
            continue
        yield (pending + line.strip()).strip()
        pending = ""


def _is_command(line: str) -> bool:
    return bool(re.match(r"^([A-Z_]+=\S+ )?(\.venv/bin/)?psbridge ", line)) or \
        "&& .venv/bin/psbridge " in line


def readme_examples() -> list[Example]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for language, block in re.findall(r"^```(\w*)\n(.*?)^```", readme,
                                      re.DOTALL | re.MULTILINE):
        if language in ("", "sh"):
            found += [Example(line, "README.md") for line in _logical_lines(block)
                      if _is_command(line)]
    return found


def help_examples() -> list[Example]:
    context = click.Context(root_command)
    found = []

    def walk(command: click.Command, path: str) -> None:
        text = f"{command.help or ''}\n{command.epilog or ''}"
        found.extend(Example(line, f"psbridge {path} --help".replace("  ", " "))
                     for line in _logical_lines(text) if _is_command(line))
        if isinstance(command, click.Group):
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None
                walk(sub, f"{path} {name}".strip())

    walk(root_command, "")
    return found


def normalise(text: str) -> str:
    """Without comments, and the quickstart's install steps (``test_readme`` checks those)."""
    text = re.sub(r"\s+#.*$", "", text).strip()
    if "&& .venv/bin/psbridge " in text:
        text = "psbridge " + text.split("&& .venv/bin/psbridge ", 1)[1]
    return re.sub(r"^\.venv/bin/psbridge ", "psbridge ", text)


def commands(text: str) -> list[str]:
    """What a user types for one example: ``[--live]`` both ways, ``a | resume x`` both."""
    text = normalise(text)
    if text in SKIPPED:
        return [text]
    optional = re.search(r" \[(--[a-z-]+)\]", text)
    if optional:
        return [text.replace(optional.group(0), ""),
                text.replace(optional.group(0), " " + optional.group(1))]
    if " | " in text and not text.split(" | ")[1].startswith("psbridge"):
        first, second = text.split(" | ")
        words = first.split()
        return [first, " ".join(words[:-len(second.split())] + second.split())]
    return [part.strip() for part in text.split(" && ")]


MIGRATION_ORDER = ("test", "plan", "start", "status", "report", "stop", "resume", "remove")


def all_examples() -> list[str]:
    """README's examples, then the help's (their migration ones in the order a batch lives)."""
    seen: dict[str, None] = {}
    for examples in (readme_examples(), help_examples()):
        found = [command for example in examples for command in commands(example.text)
                 if command not in seen]
        migration = [c for c in found if c.startswith("psbridge migrate imap ")]
        if examples and migration and examples[0].source != "README.md":
            first = found.index(migration[0])
            rest = [c for c in found if c not in migration]
            migration.sort(key=lambda c: MIGRATION_ORDER.index(c.split()[3]))
            found = rest[:first] + migration + rest[first:]
        for command in found:
            seen.setdefault(command, None)
    return list(seen)


def test_the_examples_are_found() -> None:
    found = all_examples()
    assert len(found) > 80
    assert "psbridge perms audit --all --trustee adele.vance@contoso.com -o csv > adele.csv" \
        in found
    assert "psbridge perms who-can-access sales@contoso.com --live" in found
    assert "psbridge migrate imap resume wave1" in found
    assert "psbridge task lint" in found
    assert set(SKIPPED) <= set(found) and set(EXPECTED_EXIT) <= set(found)
    assert all(hasattr(test_distributed, test) for test in DISTRIBUTED.values())


def _substitute(command: str, cli: Cli, env: dict[str, str]) -> str:
    """The placeholders a user replaces: a job id, two snapshot numbers."""
    if "20261129-101500-3fa2c1" in command:
        jobs = cli.json("jobs", "list")
        command = command.replace("20261129-101500-3fa2c1", jobs[0]["id"])
    if "perms diff 12 15" in command:
        snapshots = cli.json("perms", "snapshots")
        ids = sorted(int(s["snapshot"]) for s in snapshots)
        command = command.replace("diff 12 15", f"diff {ids[0]} {ids[-1]}")
    return command


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    stdout_file = None
    if " > " in command:
        command, target = command.split(" > ")
        stdout_file = cwd / target.strip()
    words = shlex.split(command)
    extra = {}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        extra[name] = value
    assert words[0] == "psbridge"
    result = subprocess.run([sys.executable, "-m", "toolkit", *words[1:]], cwd=cwd,
                            env={**env, **extra}, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=600)
    if stdout_file is not None:
        stdout_file.write_text(result.stdout)
    return result


# The examples run in three groups, each against its own sandbox, so that the suite's
# workers run them at once; within a group they run in the README's order (later examples
# use what earlier ones made: snapshots, jobs).
GROUPS = {"perms": {"perms"}, "migrations": {"migrate", "mailbox"}}


def _group(example: str) -> str:
    words = [w for w in shlex.split(example) if "=" not in w or w.startswith("-")][1:]
    while words and words[0].startswith("--"):  # a global option and its value
        words = words[2:]
    command = words[0] if words else ""
    return next((name for name, commands in GROUPS.items() if command in commands), "other")


@pytest.mark.slow
@pytest.mark.parametrize("group", [*GROUPS, "other"])
def test_every_documented_example_runs(cli: Cli, isolated_home: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, group: str) -> None:
    served = serve_sandbox(cli, isolated_home, "--migration-speed", "40")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # the files examples write (lab.json, reports) land here
    for name, content in FILES.items():
        (work / name).write_text(content, encoding="utf-8")
    env = {**cli.env, "PSBRIDGE_PROFILE": "lab", "PSBRIDGE_TEMPLATES": str(TEMPLATES),
           "LAB_PASSWORD": "unused"}
    scratch_config = {**env, "PSBRIDGE_CONFIG": str(tmp_path / "scratch.toml")}
    helpdesk_profile(isolated_home)  # for the example run on a helpdesk profile
    failures: list[str] = []
    try:
        for example in all_examples():
            if example in SKIPPED or _group(example) != group:
                continue
            if example.startswith("psbridge sandbox serve"):
                _serve_example(example, env, failures)
                continue
            command = _substitute(example, Cli(env), env)
            # `profile add lab` would replace the profile every other example uses
            run_env = scratch_config if example.startswith("psbridge profile") and \
                "profile test" not in example else env
            result = _run(command, work, run_env)
            expected = EXPECTED_EXIT.get(example, 0)
            if result.returncode != expected or "internal error" in result.stderr:
                failures.append(f"{command}\n  exit {result.returncode} (expected {expected})"
                                f"\n  {result.stderr.strip()[-600:]}")
    finally:
        served.process.terminate()
        served.process.wait(timeout=30)
    assert not failures, "\n".join(failures)


def _serve_example(example: str, env: dict[str, str], failures: list[str]) -> None:
    """``sandbox serve`` runs until Ctrl-C: start it (on a free port), see it listen, stop it."""
    arguments = [*shlex.split(example)[3:], "--port", "0"]
    elsewhere = {"PSBRIDGE_CONFIG": env["PSBRIDGE_CONFIG"] + ".serve",  # keep profile lab
                 "PSBRIDGE_DATA": env["PSBRIDGE_DATA"] + ".serve"}
    try:
        with spawn_sandbox(arguments, {**env, **elsewhere}):
            pass
    except SandboxUnavailable as error:
        failures.append(f"{example}\n  {error}")
