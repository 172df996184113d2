"""Smaller things a user notices (issue 15, item 10), on the embedded sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_cli import Cli, rows_csv


def test_all_tenants_on_the_embedded_sandbox_covers_its_customer_tenants(cli: Cli) -> None:
    audited = cli("perms", "audit", "--all", "--all-tenants", check=0)
    assert "snapshot 1 of contoso.onmicrosoft.com" in audited.stderr
    assert "of fabrikam.onmicrosoft.com" in audited.stderr
    tenants = {s["tenant"] for s in cli.json("--tenant", "fabrikam.onmicrosoft.com", "perms",
                                             "snapshots")}
    assert tenants == {"fabrikam.onmicrosoft.com"}
    home = {s["tenant"] for s in cli.json("perms", "snapshots")}  # not the customer's
    assert home == {"contoso.onmicrosoft.com"}


def test_the_plan_before_a_run_is_called_a_plan(cli: Cli) -> None:
    granted = cli("perms", "grant", "info@contoso.com", "megan.bowen@contoso.com", "--right",
                  "SendAs", check=0)
    assert "Plan" in granted.stdout and "Changes" not in granted.stdout
    assert "1 changed" in granted.stdout


# What each command of the tree runs with in test_every_command_honours_output_json, by
# its path; {dir} is the test's folder, {job} the job SETUP ran. The commands run in the
# tree's (sorted) order after their group's SETUP: a job, snapshot 1 of every mailbox,
# migration batches "wave" and "gone". A command that cannot run there names, instead, the
# test that checks its -o json.
COMMAND_ARGS: dict[str, tuple[str, ...] | str] = {
    "jobs list": (),
    "jobs resume": ("{job}",),
    "jobs show": ("{job}",),
    "mailbox protocols": ("--mailbox", "adele.vance@contoso.com", "--imap", "on"),
    "migrate imap plan": ("{dir}/json.csv", "--gmail"),
    "migrate imap remove": ("gone", "--yes"),
    "migrate imap report": ("wave", "--out", "{dir}/report.html"),
    "migrate imap resume": ("wave",),
    "migrate imap start": ("{dir}/json.csv", "--gmail", "--batch", "json"),
    "migrate imap status": (),
    "migrate imap stop": ("wave",),
    "migrate imap test": ("--server", "imap.gmail.com"),
    "perms access-of": ("adele.vance@contoso.com",),
    "perms apply": ("{dir}/perms.csv",),
    "perms audit": ("--mailbox", "sales@contoso.com"),
    "perms diff": ("1", "2"),
    "perms grant": ("info@contoso.com", "alex.wilber@contoso.com", "--right", "SendAs"),
    "perms revoke": ("info@contoso.com", "megan.bowen@contoso.com", "--right", "SendAs"),
    "perms revoke-all": ("debra.berger@contoso.com", "--dry-run"),
    "perms snapshots": (),
    "perms who-can-access": ("sales@contoso.com",),
    "profile add": ("jsonlab", "--endpoint", "https://h.example.com:5986/wsman"),
    "profile list": (),
    "profile remove": ("jsonlab",),
    "profile show": ("sandbox",),
    "profile test": (),
    "sandbox approve": "tests/e2e/test_sign_in.py::test_device_code_sign_in_approved_from_"
                       "another_terminal",
    "sandbox serve": "test_sandbox_serve_prints_how_to_connect_as_json",
    "sandbox stop": (),
    "store migrate": (),
    "store status": (),
    "task lint": (),
    "task list": (),
    "task run": ("exchange/list-mailboxes",),
    "task show": ("exchange/list-mailboxes",),
    "users activate": ("{dir}/hires.csv", "--dry-run"),
    "users license add": ("--sku", "ENTERPRISEPACK", "--users", "{dir}/users.csv",
                          "--dry-run"),
    "users license remove": ("--sku", "ENTERPRISEPACK", "--users", "{dir}/users.csv",
                             "--dry-run"),
    "users licenses": (),
    "users reset-password": ("nora.ahmed@contoso.com",),
    "version": (),
    "worker": "runs a Celery worker until stopped: a log, no result to print",
}
GRANT = ("perms", "grant", "info@contoso.com", "megan.bowen@contoso.com", "--right", "SendAs")
# The commands run in three groups, each on a sandbox of its own (so that the suite's
# workers run them at once), after what its commands need.
SETUP = {
    "perms": [GRANT, ("perms", "audit", "--all")],
    "migrations": [("migrate", "imap", "start", "{dir}/wave.csv", "--gmail", "--batch", "wave"),
                   ("migrate", "imap", "start", "{dir}/gone.csv", "--gmail", "--batch", "gone")],
    "other": [GRANT],
}


def _group(path: str) -> str:
    first = path.split()[0]
    return {"perms": "perms", "migrate": "migrations", "mailbox": "migrations"}.get(first,
                                                                                  "other")


def leaf_commands() -> list[str]:
    """Every command of psbridge's tree that runs (not a group), by its path."""
    import click

    from toolkit.cli.main import cli as root

    context = click.Context(root)

    def walk(command: click.Command, path: tuple[str, ...]) -> list[str]:
        if not isinstance(command, click.Group):
            return [" ".join(path)]
        found = []
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            assert sub is not None, name
            found += walk(sub, (*path, name))
        return found

    return walk(root, ())


def test_every_command_has_an_output_json_check() -> None:
    """A new command needs its entry in COMMAND_ARGS; a removed one loses it."""
    assert sorted(leaf_commands()) == sorted(COMMAND_ARGS)


@pytest.mark.slow
@pytest.mark.parametrize("group", [*SETUP])
def test_every_command_honours_output_json(cli: Cli, tmp_path: Path, group: str) -> None:
    """Issue 15, item 8: stdout is one JSON document whatever the command."""
    for batch, user in (("wave", "adele.vance"), ("gone", "alex.wilber"),
                        ("json", "christie.cline")):  # a user is in one batch only
        rows_csv(tmp_path / f"{batch}.csv", "EmailAddress,UserName,Password",
                 [f"{user}@contoso.com,{user}.contoso@gmail.com,{user.split('.')[0]}-app-pw-2024"])
    rows_csv(tmp_path / "perms.csv", "Mailbox,Trustee,Right",
             ["finance@contoso.com,alex.wilber@contoso.com,SendAs"])
    rows_csv(tmp_path / "hires.csv", "UserPrincipalName,UsageLocation,Licenses",
             ["nora.ahmed@contoso.com,US,ENTERPRISEPACK"])
    rows_csv(tmp_path / "users.csv", "UserPrincipalName", ["alex.wilber@contoso.com"])
    for step in SETUP[group]:
        cli(*(word.format(dir=tmp_path) for word in step), check=0)
    values = {"dir": tmp_path, "job": cli.json("jobs", "list")[-1]["id"] if GRANT in
              SETUP[group] else ""}
    ignored = []
    for path in leaf_commands():
        args = COMMAND_ARGS[path]
        if isinstance(args, str) or _group(path) != group:
            continue  # checked where the entry says, or in another group
        command = [*path.split(), *(word.format(**values) for word in args)]
        result = cli(*command, "-o", "json")
        try:
            json.loads(result.stdout)
        except ValueError:
            ignored.append(f"{' '.join(command)}: exit {result.returncode}, not JSON:\n"
                           f"{result.stdout}\n{result.stderr}")
    assert not ignored, "\n".join(ignored)


def test_sandbox_serve_prints_how_to_connect_as_json(cli: Cli) -> None:
    """The one command that keeps running prints its JSON at once and nothing after it."""
    import signal
    import subprocess
    import sys

    server = subprocess.Popen([sys.executable, "-m", "toolkit", "sandbox", "serve", "--port",
                               "0", "-o", "json"], env=cli.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert server.stdout is not None
    printed = ""
    while not printed.endswith("]\n"):
        line = server.stdout.readline()
        assert line, f"serve ended first: {server.stderr.read() if server.stderr else ''}"
        printed += line
    (connection,) = json.loads(printed)
    assert connection["url"].startswith("http://127.0.0.1:")
    assert connection["username"] and connection["password"]
    server.send_signal(signal.SIGINT)
    rest, _ = server.communicate(timeout=60)
    assert rest == ""
    assert server.returncode in (0, 130)  # 130: the Ctrl-C came before the wait for it
