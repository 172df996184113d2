"""[store], [queue] and [[schedule]]: validated with the file and key named; schedules
become Celery beat entries that run the same commands a crontab line would."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.core.config import load
from toolkit.core.errors import ConfigError
from toolkit.distributed.schedule import beat_schedule, scheduled_commands

SHARED = """
[store]
url = "postgresql://psbridge:s3cret@db.example.net/psbridge"

[queue]
broker = "redis://queue.example.net:6379/0"
connections = 2

[[schedule]]
name = "nightly"
cron = "30 2 * * 1-5"
command = "audit"
profile = "msp"
tenants = ["all"]
webhook = "https://hooks.example.net/psbridge"

[[schedule]]
name = "hourly-diff"
cron = "0 * * * *"
command = "diff"
tenants = ["fabrikam.onmicrosoft.com"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shared_settings_are_read(tmp_path: Path) -> None:
    config = load(write(tmp_path, SHARED))
    assert config.store_url == "postgresql://psbridge:s3cret@db.example.net/psbridge"
    assert config.queue is not None and config.queue.connections == 2
    assert [s["name"] for s in config.schedules] == ["nightly", "hourly-diff"]


def test_the_queue_is_psbridge_unless_named(tmp_path: Path) -> None:
    assert load(write(tmp_path, SHARED)).queue.queue == "psbridge"  # type: ignore[union-attr]
    named = load(write(tmp_path, '[queue]\nbroker = "amqp://rabbit//"\nqueue = "team-a"\n'))
    assert named.queue is not None and named.queue.queue == "team-a"


def test_a_missing_section_keeps_the_local_defaults(tmp_path: Path) -> None:
    config = load(write(tmp_path, 'default_profile = "sandbox"\n'))
    assert (config.store_url, config.queue, config.schedules) == (None, None, ())


@pytest.mark.parametrize(("text", "message"), [
    ('[store]\nurl = "mysql://x/y"\n', "[store] url must be a postgresql:// URL"),
    ('[queue]\nbroker = "http://x"\n', "[queue] broker must be a redis:// or amqp:// URL"),
    ('[queue]\nbroker = "redis://x"\nconnections = 0\n', "[queue] connections"),
    ('[queue]\nbroker = "redis://x"\nqueue = "a b"\n', "[queue] queue must be a name"),
    ('[queue]\nbroker = "redis://x"\nsecret_key_file = 3\n',
     "[queue] secret_key_file must be a file name"),
    ('[store]\nurl = "postgresql://x/y"\nuser = "a"\n', "[store] unknown key 'user'"),
    ('[[schedule]]\nname = "n"\ncron = "* * *"\ncommand = "audit"\n',
     "[[schedule]] #1, key 'cron': '* * *' is not five fields"),
    ('[[schedule]]\nname = "n"\ncron = "* * * * *"\ncommand = "purge"\n',
     "key 'command': must be one of audit, diff"),
    ('[[schedule]]\ncron = "* * * * *"\ncommand = "diff"\n', "key 'name' is required"),
])
def test_bad_shared_settings_name_the_file_and_key(tmp_path: Path, text: str,
                                                   message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(path) in info.value.message and message in info.value.message


def test_schedules_run_the_commands_cron_would(tmp_path: Path) -> None:
    nightly, hourly = load(write(tmp_path, SHARED)).schedules
    assert scheduled_commands(nightly) == [
        ["--profile", "msp", "perms", "audit", "--all", "--all-tenants", "--distributed"],
        ["--profile", "msp", "perms", "diff", "--all-tenants", "--notify-webhook",
         "https://hooks.example.net/psbridge"],
    ]
    assert scheduled_commands(hourly) == [
        ["--tenant", "fabrikam.onmicrosoft.com", "perms", "diff"]]
    table = beat_schedule((nightly, hourly))
    when = table["nightly"]["schedule"]
    assert when.hour == {2} and when.minute == {30} and when.day_of_week == {1, 2, 3, 4, 5}
    assert table["hourly-diff"]["task"] == "psbridge.scheduled"


def test_a_cron_field_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigError, match="cron '61 2 \\* \\* \\*'"):
        beat_schedule(({"name": "bad", "cron": "61 2 * * *", "command": "diff"},))


def test_a_store_password_is_never_printed() -> None:
    from toolkit.core.database import shown

    assert shown("postgresql://psbridge:s3cret@db.example.net/psbridge") == (
        "postgresql://psbridge:***@db.example.net/psbridge")
