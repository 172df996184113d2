"""The token cache answers only for the credential that earned the token."""

from __future__ import annotations

import tomllib
from pathlib import Path

from e2e_cli import Cli

from toolkit.core import config


def test_a_cached_token_is_not_handed_to_a_wrong_secret(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path) -> None:
    serve()
    cli("--profile", "lab", "task", "run", "exchange/list-mailboxes", check=0)  # cached now
    settings = tomllib.loads((isolated_home / "config.toml").read_text())["profiles"]["lab"]
    secret = isolated_home / "wrong-secret"
    secret.write_text("not-the-secret")
    secret.chmod(0o600)
    settings["exchange"]["client_secret_file"] = str(secret)
    settings["exchange"].pop("client_secret_env", None)
    config.write_profile("bad", settings, isolated_home / "config.toml")
    failed = cli("--profile", "bad", "task", "run", "exchange/list-mailboxes", check=4)
    assert "invalid_client" in failed.stderr
