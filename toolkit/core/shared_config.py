"""The configuration of a team's shared set-up: ``[store]``, ``[queue]`` and ``[[schedule]]``.

::

    [store]
    url = "postgresql://psbridge@db.example.net/psbridge"   # jobs, rows, snapshots

    [queue]
    broker = "redis://queue.example.net:6379/0"             # or amqp://user@host//
    connections = 3      # per (management host, account, tenant, service), all workers
    redelivery_seconds = 3600   # Redis: a dead worker's task is delivered again after this
    queue = "psbridge"   # the queue the CLI sends to and workers take from by default
    secret_key_file = "/etc/psbridge/queue.key"   # Fernet key sealing secrets in tasks

    [[schedule]]
    name = "nightly-audit"
    cron = "0 2 * * *"   # minute hour day-of-month month day-of-week (UTC)
    command = "audit"    # audit | diff
    profile = "msp"
    tenants = ["all"]    # or tenant names
    webhook = "https://hooks.example.net/psbridge"   # optional: drift is posted there

A password in a URL is allowed (PostgreSQL and Redis take them there) but is never printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from toolkit.core.errors import ConfigError

BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")
STORE_SCHEMES = ("postgresql", "postgres")
SCHEDULE_COMMANDS = ("audit", "diff")
DEFAULT_CONNECTIONS = 3
DEFAULT_REDELIVERY_SECONDS = 3600
DEFAULT_QUEUE = "psbridge"
_SCHEDULE_KEYS = {"name": str, "cron": str, "command": str, "profile": str, "tenants": list,
                  "webhook": str}


def _table(value: Any, name: str, path: Path, known: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"{path}: [{name}] unknown key '{unknown[0]}'",
                          hint=f"Known keys: {', '.join(sorted(known))}.")
    return value


def parse_store(value: Any, path: Path) -> str | None:
    if value is None:
        return None
    url = _table(value, "store", path, {"url"}).get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in STORE_SCHEMES:
        raise ConfigError(f"{path}: [store] url must be a postgresql:// URL, not {url!r}",
                          hint="Leave [store] out to keep the local SQLite store.")
    return url


@dataclass(frozen=True)
class QueueSettings:
    broker: str
    connections: int = DEFAULT_CONNECTIONS
    redelivery_seconds: int = DEFAULT_REDELIVERY_SECONDS
    queue: str = DEFAULT_QUEUE
    secret_key_file: Path | None = None  # the Fernet key that seals secrets in tasks


def parse_queue(value: Any, path: Path) -> QueueSettings | None:
    if value is None:
        return None
    table = _table(value, "queue", path, {"broker", "connections", "redelivery_seconds",
                                          "queue", "secret_key_file"})
    broker = table.get("broker")
    if not isinstance(broker, str) or urlsplit(broker).scheme not in BROKER_SCHEMES:
        raise ConfigError(f"{path}: [queue] broker must be a redis:// or amqp:// URL, "
                          f"not {broker!r}")
    connections = table.get("connections", DEFAULT_CONNECTIONS)
    if not isinstance(connections, int) or isinstance(connections, bool) \
            or not 1 <= connections <= 64:
        raise ConfigError(f"{path}: [queue] connections must be a number from 1 to 64")
    redelivery = table.get("redelivery_seconds", DEFAULT_REDELIVERY_SECONDS)
    if not isinstance(redelivery, int) or isinstance(redelivery, bool) or redelivery < 5:
        raise ConfigError(f"{path}: [queue] redelivery_seconds must be a number, 5 or more",
                          hint="Longer than your longest chunk or tenant audit.")
    queue = table.get("queue", DEFAULT_QUEUE)
    if not isinstance(queue, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", queue):
        raise ConfigError(f"{path}: [queue] queue must be a name of letters, digits, '.', "
                          f"'_' and '-', not {queue!r}")
    key_file = table.get("secret_key_file")
    if key_file is not None and (not isinstance(key_file, str) or not key_file.strip()):
        raise ConfigError(f"{path}: [queue] secret_key_file must be a file name")
    return QueueSettings(broker, connections, redelivery, queue,
                         None if key_file is None else path.parent / Path(key_file).expanduser())


def parse_schedules(value: Any, path: Path) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{path}: schedule must be an array of tables ([[schedule]])")
    entries = []
    for number, entry in enumerate(value, 1):
        where = f"{path}: [[schedule]] #{number}"
        table = _table(entry, f"[schedule]] #{number}", path, set(_SCHEDULE_KEYS))
        for key, kind in _SCHEDULE_KEYS.items():
            if key in table and not isinstance(table[key], kind):
                raise ConfigError(f"{where}, key '{key}': must be a {kind.__name__}")
        for key in ("name", "cron", "command"):
            if key not in table:
                raise ConfigError(f"{where}: key '{key}' is required")
        if len(table["cron"].split()) != 5:
            raise ConfigError(f"{where}, key 'cron': {table['cron']!r} is not five fields",
                              hint="minute hour day-of-month month day-of-week, "
                              "e.g. \"0 2 * * *\".")
        if table["command"] not in SCHEDULE_COMMANDS:
            raise ConfigError(f"{where}, key 'command': must be one of "
                              f"{', '.join(SCHEDULE_COMMANDS)}")
        entries.append(dict(table))
    return tuple(entries)
