"""The ``psbridge`` command: global options, lazily loaded command groups, one error handler.

Command groups live in their own modules and are imported only when invoked, so
``psbridge --help`` stays fast: nothing here imports pypsrp, msal, jinja2 or tree-sitter.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from toolkit.cli.context import AppContext

# name -> (module:attribute, one-line help shown by `psbridge --help` without importing it)
COMMANDS: dict[str, tuple[str, str]] = {
    "task": ("toolkit.cli.task:task", "List, show, lint and run PowerShell templates."),
    "users": ("toolkit.cli.users:users", "Activate and license users in bulk."),
    "jobs": ("toolkit.cli.jobs:jobs", "List, inspect and resume bulk jobs."),
    "mailbox": ("toolkit.cli.mailbox:mailbox", "Mailbox settings in bulk (POP/IMAP access)."),
    "migrate": ("toolkit.cli.migrate:migrate", "POP/IMAP migrations into Exchange Online."),
    "perms": ("toolkit.cli.perms:perms",
              "Mailbox permissions: grant, revoke, bulk, audit, drift, lookups."),
    "profile": ("toolkit.cli.profile:profile", "Manage connection profiles."),
    "sandbox": ("toolkit.cli.sandbox:sandbox", "Run the embedded sandbox management host."),
    "store": ("toolkit.cli.store:store", "The job store: its location, schema migrations."),
    "worker": ("toolkit.cli.worker:worker",
               "Run a Celery worker for --distributed jobs (and --beat schedules)."),
    "version": ("toolkit.cli.main:version", "Print psbridge's version."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def _available(self) -> list[str]:
        """Lazy commands whose module exists (found without importing it)."""
        return sorted(name for name, (target, _) in self._lazy.items()
                      if importlib.util.find_spec(target.split(":")[0]) is not None)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._available()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self._available():
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self._lazy[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attribute} is not a click command")
        _accept_global_options(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text comes from the table, so listing commands imports none of them.
        rows = [(name, self._lazy[name][1]) for name in self._available()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option given after the command: it overrides the one given before."""
    app = ctx.find_object(AppContext)
    if app is None or value in (None, 0, False):
        return
    if param.name == "verbose":
        app.verbose += value
        configure_logging(app.verbose)
    else:
        setattr(app, str(param.name), value)


def _global_options() -> list[click.Option]:
    """Fresh copies of the global options (each command needs its own objects)."""
    common: dict[str, Any] = {"expose_value": False, "callback": _set_global}
    return [
        click.Option(["--profile", "profile_name"], metavar="NAME", default=None,
                     help="Global option: connection profile to use.", **common),
        click.Option(["--tenant"], metavar="TENANT", default=None,
                     help="Global option: customer tenant to act on (partner profiles).",
                     **common),
        click.Option(["--output", "-o"], type=click.Choice(["table", "json", "csv"]),
                     default=None, help="Global option: how results are printed.", **common),
        click.Option(["-v", "--verbose"], count=True,
                     help="Global option: more detail on stderr (-vv for debug).", **common),
        click.Option(["--traceback"], is_flag=True,
                     help="Global option: show the Python stack trace on errors.", **common),
    ]


def _accept_global_options(command: click.Command) -> None:
    """Let ``psbridge perms audit --all -o csv`` mean ``psbridge -o csv perms audit --all``.

    Each global option is added to the command and to every subcommand below it, unless the
    command has an option of that name itself (``profile add --tenant`` is its own).
    """
    if getattr(command, "_psbridge_globals", False):
        return
    command._psbridge_globals = True  # type: ignore[attr-defined]
    taken = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for option in _global_options():
        if not taken.intersection(option.opts):
            command.params.append(option)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_global_options(sub)


def configure_logging(verbose: int) -> None:
    """psbridge's own log lines on stderr: INFO with -v, DEBUG with -vv."""
    import logging

    root = logging.getLogger("toolkit")
    if not any(getattr(h, "_psbridge", False) for h in root.handlers):
        # psbridge's own loggers only: libraries' debug output can hold request bodies.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s",
                                               "%H:%M:%S"))
        handler._psbridge = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings=CONTEXT_SETTINGS,
    epilog="Exit codes: 0 ok, 1 some rows failed, 2 bad input (nothing changed), "
    "3 drift found, 4 cannot connect or authenticate, 130 interrupted, 143 terminated. "
    "With no profile configured, commands run against the embedded sandbox tenant.",
)
@click.option("--profile", "profile_name", metavar="NAME", envvar="PSBRIDGE_PROFILE",
              help="Connection profile to use (default: the config's default_profile, "
              "else the PSBRIDGE_* environment profile, else the embedded sandbox).")
@click.option("--tenant", metavar="TENANT",
              help="Customer tenant to act on, for partner profiles (name or id).")
@click.option("--output", "-o", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="How results are printed.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug).")
@click.option("--traceback", is_flag=True, help="Show the Python stack trace on errors.")
@click.version_option(package_name="psbridge", prog_name="psbridge",
                      message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, profile_name: str | None, tenant: str | None, output: str,
        verbose: int, traceback: bool) -> None:
    """psbridge: Microsoft 365 chores in bulk, safely and provably, over remote PowerShell.

    \b
    Examples:
      psbridge task list
      psbridge task show exchange/list-mailboxes
      psbridge --profile lab profile test lab
    """
    ctx.obj = AppContext(profile_name, tenant, output, verbose, traceback)
    if verbose:
        configure_logging(verbose)


@click.command()
@click.pass_obj
def version(app: AppContext) -> None:
    """Print psbridge's version (also: psbridge --version)."""
    from importlib.metadata import version as dist_version

    from toolkit.cli.output import outcome

    number = dist_version("psbridge")
    outcome(app, f"psbridge {number}", {"name": "psbridge", "version": number})


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn every failure into one line and an exit code."""
    from toolkit.cli.handler import run

    return run(cli, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
