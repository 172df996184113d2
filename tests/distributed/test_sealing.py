"""The queue key and the sealed secrets of a chunk task (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from toolkit.core.errors import ConfigError
from toolkit.core.runner import WorkRow
from toolkit.core.template_meta import ParamSpec, TemplateMeta
from toolkit.distributed.sealing import (
    KEY_ENV,
    SealBroken,
    Secrets,
    open_chunk,
    queue_key,
    require_key,
    seal_chunk,
)

SECRETS = Secrets.of([TemplateMeta(
    name="custom/t", summary="", role="admin", mutates=True, services=("graph",),
    params={"Rows": ParamSpec("Rows", "rows"), "Token": ParamSpec("Token", "secret"),
            "Note": ParamSpec("Note", "string")},
    secret_columns=("Password",))])
ROWS = [WorkRow(1, "a", {"UserPrincipalName": "a@contoso.com", "password": "Pw-1"}),
        WorkRow(2, "b", {"UserPrincipalName": "b@contoso.com"})]


def queue_config(home: Path, key_file: str | None = None) -> None:
    line = f'secret_key_file = "{key_file}"\n' if key_file else ""
    (home / "config.toml").write_text(
        f'[queue]\nbroker = "redis://127.0.0.1:6379/0"\n{line}', encoding="utf-8")


def test_a_chunk_sealed_with_the_key_file_opens_with_it(isolated_home: Path) -> None:
    queue_config(isolated_home, "queue.key")  # relative: next to the config file
    (isolated_home / "queue.key").write_text(Fernet.generate_key().decode() + "\n")
    key = require_key("task t")
    token = seal_chunk(key, SECRETS, {"Token": "tok-1", "Note": "n"}, ROWS)
    assert "Pw-1" not in token and "tok-1" not in token
    params, cells = open_chunk(token)
    assert params == {"Token": "tok-1"}
    assert cells == {1: {"password": "Pw-1"}, 2: {}}  # names match case-insensitively


def test_the_environment_key_wins_and_another_key_cannot_open(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    queue_config(isolated_home, "queue.key")
    (isolated_home / "queue.key").write_text(Fernet.generate_key().decode())
    token = seal_chunk(require_key("task t"), SECRETS, {}, ROWS)
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(SealBroken, match="the queue key differs"):
        open_chunk(token)


def test_without_a_key_sealing_is_refused_and_nothing_opens(isolated_home: Path) -> None:
    queue_config(isolated_home)
    assert queue_key() is None
    with pytest.raises(ConfigError, match="none is set") as refused:
        require_key("task t")
    assert "Fernet.generate_key()" in (refused.value.hint or "")
    with pytest.raises(SealBroken, match="no queue key"):
        open_chunk("anything")


def test_a_malformed_key_is_refused_without_showing_it(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    queue_config(isolated_home)
    monkeypatch.setenv(KEY_ENV, "not-a-key-s3cret")
    with pytest.raises(ConfigError, match=f"{KEY_ENV}: not a Fernet key") as refused:
        queue_key()
    assert "s3cret" not in refused.value.message


def test_split_keeps_the_plain_values_in_plain_text() -> None:
    plain, sealed = SECRETS.split({"token": "t", "Note": "n"}, SECRETS.params)
    assert (plain, sealed) == ({"Note": "n"}, {"token": "t"})
