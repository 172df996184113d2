"""Profiles: validation names file, profile and key; secrets never live in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.core import config as cfg
from toolkit.core.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PSBRIDGE_ENDPOINT", "PSBRIDGE_USERNAME", "PSBRIDGE_PASSWORD", "PSBRIDGE_AUTH"):
        monkeypatch.delenv(var, raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_nothing_configured_means_the_sandbox(tmp_path: Path) -> None:
    profile = cfg.resolve_profile(None, cfg.load(tmp_path / "missing.toml"))
    assert profile.is_sandbox


def test_a_full_profile_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, """
default_profile = "lab"
[profiles.lab]
endpoint = "https://mgmt.contoso.com:5986/wsman"
auth = "ntlm"
username = "CONTOSO\\\\svc"
password_env = "LAB_PW"
role = "helpdesk"
max_runspaces = 5
tenants = ["fabrikam.onmicrosoft.com"]
[profiles.lab.exchange]
organization = "contoso.onmicrosoft.com"
app_id = "11111111-1111-1111-1111-111111111111"
certificate_path = "/etc/psbridge/app.pem"
""")
    monkeypatch.setenv("LAB_PW", "pa55")
    profile = cfg.resolve_profile(None, cfg.load(path))
    assert profile.name == "lab" and profile.role == "helpdesk" and profile.max_runspaces == 5
    assert profile.username == "CONTOSO\\svc"
    assert profile.password() == "pa55"
    assert profile.services["exchange"].organization == "contoso.onmicrosoft.com"
    assert "pa55" not in str(profile.describe())


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('endpoint = "https://h/wsman"\npassword = "x"', "password"),
        ('endpoint = "https://h/wsman"\nauth = "digest"', "auth"),
        ('endpoint = "mgmt:5986"', "endpoint"),
        ('endpoint = "https://h/wsman"\nmax_runspaces = "3"', "max_runspaces"),
        ('endpoint = "https://h/wsman"\ncolour = "blue"', "colour"),
        ('endpoint = "https://h/wsman"\n[profiles.p.exchange]\nclient_secret = "s"',
         "exchange.client_secret"),
        ('auth = "basic"', "endpoint"),
    ],
)
def test_invalid_profiles_name_file_profile_and_key(tmp_path: Path, body: str, key: str) -> None:
    path = write(tmp_path, f"[profiles.p]\n{body}\n")
    with pytest.raises(ConfigError) as info:
        cfg.load(path)
    assert str(path) in info.value.message
    assert "profile 'p'" in info.value.message
    assert f"key '{key}'" in info.value.message


def test_environment_profile_for_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSBRIDGE_ENDPOINT", "https://10.0.0.5:5986/wsman")
    monkeypatch.setenv("PSBRIDGE_USERNAME", "admin")
    monkeypatch.setenv("PSBRIDGE_PASSWORD", "pw")
    monkeypatch.setenv("PSBRIDGE_AUTH", "basic")
    profile = cfg.resolve_profile(None, cfg.load(tmp_path / "none.toml"))
    assert (profile.name, profile.auth, profile.username, profile.password()) == (
        "env", "basic", "admin", "pw")
    # Basic over plain http would send the password in clear: refused, with the reason.
    monkeypatch.setenv("PSBRIDGE_ENDPOINT", "http://10.0.0.5:5985/wsman")
    with pytest.raises(ConfigError, match="basic over http:// sends the password in clear"):
        cfg.resolve_profile(None, cfg.load(tmp_path / "none.toml"))


def test_missing_password_variable_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.p]\nendpoint = "https://h/wsman"\npassword_env = "NOPE_PW"\n')
    profile = cfg.resolve_profile("p", cfg.load(path))
    with pytest.raises(ConfigError, match="NOPE_PW is not set"):
        profile.password()


def test_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.lab]\nendpoint = "https://h/wsman"\n')
    with pytest.raises(ConfigError) as info:
        cfg.resolve_profile("prod", cfg.load(path))
    assert "lab" in (info.value.hint or "")


def test_write_and_remove_keep_the_rest_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '# my settings\n[profiles.keep]\nendpoint = "https://k/wsman" # prod\n')
    cfg.write_profile("lab", {"endpoint": "https://h/wsman", "auth": "basic",
                              "exchange": {"organization": "c.onmicrosoft.com"}},
                      path, make_default=True)
    text = path.read_text()
    assert "# my settings" in text and "# prod" in text
    loaded = cfg.load(path)
    assert loaded.default_profile == "lab"
    assert loaded.profiles["lab"].services["exchange"].organization == "c.onmicrosoft.com"
    cfg.remove_profile("lab", path)
    loaded = cfg.load(path)
    assert set(loaded.profiles) == {"keep"} and loaded.default_profile is None


def test_write_refuses_invalid_settings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    with pytest.raises(ConfigError, match="key 'auth'"):
        cfg.write_profile("x", {"endpoint": "https://h/wsman", "auth": "magic"}, path)
    assert not path.exists()


def test_password_file_must_be_private(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    path = write(tmp_path, f'[profiles.p]\nendpoint = "https://h/wsman"\npassword_file = "{secret}"\n')
    profile = cfg.resolve_profile("p", cfg.load(path))
    with pytest.raises(ConfigError, match="readable by other users"):
        profile.password()
    secret.chmod(0o600)
    assert profile.password() == "s3cret"
