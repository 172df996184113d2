"""``psbridge worker --beat``: the ``[[schedule]]`` entries of the configuration, on Celery beat.

Each entry becomes a beat schedule (cron fields, UTC) whose task runs on a worker, as the
CLI would run it from cron: ``command = "audit"`` audits every mailbox of the entry's
tenants (``["all"]``: the profile's own and every customer tenant it lists) with
``--distributed``, so the tenants spread over the workers, then compares each tenant with
its previous snapshot and posts drift to the entry's webhook; ``command = "diff"`` only
compares (and posts). The commands' exit codes are the task's result (3: drift found).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from toolkit.core.errors import ConfigError

SCHEDULE_TASK = "psbridge.scheduled"
log = logging.getLogger(__name__)


def _tenant_options(entry: Mapping[str, Any]) -> list[list[str]]:
    """The global options selecting each tenant run: one run for every tenant at once."""
    tenants = list(entry.get("tenants", ["all"]))
    if tenants == ["all"]:
        return [[]]
    return [["--tenant", tenant] for tenant in tenants]


def scheduled_commands(entry: Mapping[str, Any]) -> list[list[str]]:
    """The psbridge command lines an entry runs, in order."""
    profile = ["--profile", str(entry["profile"])] if entry.get("profile") else []
    every = ["--all-tenants"] if list(entry.get("tenants", ["all"])) == ["all"] else []
    webhook = ["--notify-webhook", str(entry["webhook"])] if entry.get("webhook") else []
    commands = []
    for tenant in _tenant_options(entry):
        if entry["command"] == "audit":
            commands.append([*profile, *tenant, "perms", "audit", "--all", *every,
                             "--distributed"])
        commands.append([*profile, *tenant, "perms", "diff", *every, *webhook])
    return commands


def run_scheduled(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Run one entry's commands now; returns their exit codes."""
    codes = []
    for command in scheduled_commands(entry):
        done = subprocess.run([sys.executable, "-m", "toolkit", *command],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        log.info("schedule %s: psbridge %s: exit %d\n%s", entry["name"], " ".join(command),
                 done.returncode, done.stderr[-2000:])
        codes.append(done.returncode)
    return {"schedule": entry["name"], "exit_codes": codes}


def beat_schedule(schedules: tuple[Mapping[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """Celery beat's schedule for the configuration's entries."""
    from celery.schedules import crontab

    if not schedules:
        raise ConfigError("worker --beat: the configuration has no [[schedule]] entries",
                          hint="Add one (see README, Teams and MSPs), or run without --beat.")
    table = {}
    for entry in schedules:
        minute, hour, day_of_month, month, day_of_week = str(entry["cron"]).split()
        try:
            when = crontab(minute=minute, hour=hour, day_of_month=day_of_month,
                           month_of_year=month, day_of_week=day_of_week)
        except ValueError as exc:
            raise ConfigError(f"[[schedule]] {entry['name']}: cron {entry['cron']!r}: {exc}"
                              ) from None
        table[str(entry["name"])] = {"task": SCHEDULE_TASK, "schedule": when,
                                     "args": [dict(entry)]}
    return table


def install_schedule(app: Any) -> None:
    from toolkit.core import paths
    from toolkit.core.config import load

    app.conf.beat_schedule = beat_schedule(load().schedules)
    app.conf.beat_schedule_filename = str(paths.data_dir() / "celerybeat-schedule")
