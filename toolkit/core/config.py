"""Configuration file and profiles.

The file is TOML (``PSBRIDGE_CONFIG``, else ``config.toml`` in the user config folder)::

    default_profile = "lab"

    [profiles.lab]
    endpoint = "https://mgmt.contoso.com:5986/wsman"
    configuration_name = "PowerShell.7"   # default Microsoft.PowerShell (Windows PowerShell 5.1)
    auth = "negotiate"            # basic, ntlm, negotiate, kerberos, credssp, certificate
    username = "CONTOSO\\svc-psbridge"
    password_env = "PSBRIDGE_LAB_PASSWORD"   # or password_file, or password_keyring = true
    role = "admin"                # helpdesk | admin
    cloud = "global"              # usgov (GCC), usgovhigh, dod, china: sign-in and services

    [profiles.lab.exchange]
    organization = "contoso.onmicrosoft.com"
    app_id = "00000000-0000-0000-0000-000000000000"
    certificate_path = "~/.psbridge/app.pem"

Passwords and secrets are never stored in the file: they come from an environment
variable or the OS keyring. ``PSBRIDGE_ENDPOINT``, ``PSBRIDGE_USERNAME``,
``PSBRIDGE_PASSWORD`` and ``PSBRIDGE_AUTH`` define an ad-hoc profile named ``env`` for
scripts. With nothing configured, the profile is ``sandbox``: the embedded sandbox tenant.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from toolkit.core import paths
from toolkit.core.clouds import CLOUDS
from toolkit.core.errors import ConfigError
from toolkit.core.shared_config import QueueSettings, parse_queue, parse_schedules, parse_store

AUTH_METHODS = ("basic", "ntlm", "negotiate", "kerberos", "credssp", "certificate")
ENCRYPTION = ("auto", "always", "never")
ROLES = ("helpdesk", "admin")
SANDBOX = "sandbox"
# Where the sandbox profile connects (toolkit/sandbox/shared.py): one server per data folder.
SHARED_SANDBOX = ("(embedded sandbox: one local server shared by every command, started on "
                  "first use; 'psbridge sandbox stop' ends it)")
ENV_PROFILE = "env"
_FORBIDDEN_SECRETS = ("password", "client_secret", "token", "access_token")

DEFAULT_CONFIGURATION = "Microsoft.PowerShell"
# What each auth method needs beyond pypsrp, as (module to import, pip extra).
AUTH_EXTRAS = {"kerberos": ("gssapi", "kerberos"), "credssp": ("requests_credssp", "credssp")}

_PROFILE_KEYS = {
    "endpoint": str,
    "configuration_name": str,
    "cloud": str,
    "auth": str,
    "username": str,
    "password_env": str,
    "password_file": str,
    "password_keyring": bool,
    "verify_tls": bool,
    "ca_bundle": str,
    "encryption": str,
    "max_runspaces": int,
    "role": str,
    "certificate_pem": str,
    "certificate_key_pem": str,
    "tenants": list,
    "agent": str,
    "exchange": dict,
    "graph": dict,
}
_SERVICE_KEYS = {
    "organization": str,
    "tenant_id": str,
    "authority": str,
    "app_id": str,
    "certificate_path": str,
    "certificate_thumbprint": str,
    "client_secret_env": str,
    "client_secret_file": str,
    "delegated": bool,
}


@dataclass(frozen=True)
class ServiceConnection:
    """How the management host connects to one cloud service (Exchange or Graph)."""

    organization: str | None = None
    tenant_id: str | None = None
    authority: str = "https://login.microsoftonline.com"
    app_id: str | None = None
    certificate_path: str | None = None
    certificate_thumbprint: str | None = None
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    delegated: bool = False

    def client_secret(self) -> str | None:
        """The app's client secret, from its environment variable or file."""
        return _secret_from(self.client_secret_env, self.client_secret_file, "client secret")


@dataclass(frozen=True)
class Profile:
    name: str
    endpoint: str | None = None  # None only for the sandbox profile
    configuration_name: str = DEFAULT_CONFIGURATION  # the host's session configuration
    cloud: str = "global"  # global | usgov | usgovhigh | dod | china (toolkit.core.clouds)
    auth: str = "negotiate"
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    password_keyring: bool = False
    verify_tls: bool = True
    ca_bundle: str | None = None
    encryption: str = "auto"
    max_runspaces: int = 3
    role: str = "admin"
    certificate_pem: str | None = None
    certificate_key_pem: str | None = None
    tenants: tuple[str, ...] = ()
    services: Mapping[str, ServiceConnection] = field(default_factory=dict)
    source: str = ""  # where it was defined, for messages
    agent: str | None = None  # who is at the keyboard, recorded on every job

    @property
    def agent_name(self) -> str:
        """The name jobs are recorded under: the profile's ``agent``, else the OS user."""
        import getpass

        return self.agent or getpass.getuser()

    @property
    def is_sandbox(self) -> bool:
        return self.name == SANDBOX and self.endpoint is None

    def password(self) -> str | None:
        """The WinRM password: environment variable, private file or OS keyring."""
        if self.password_env or self.password_file:
            return _secret_from(self.password_env, self.password_file,
                                f"profile {self.name}: password")
        if self.password_keyring:
            return _keyring_password(self)
        return None

    def describe(self) -> dict[str, Any]:
        """Settings for display: password sources are named, values never shown."""
        data: dict[str, Any] = {
            "name": self.name,
            "endpoint": self.endpoint or SHARED_SANDBOX,
            "configuration_name": self.configuration_name,
            "cloud": self.cloud,
            "auth": self.auth,
            "username": self.username,
            "password": (
                f"env:{self.password_env}" if self.password_env
                else f"file:{self.password_file}" if self.password_file
                else "OS keyring" if self.password_keyring else None
            ),
            "verify_tls": self.verify_tls,
            "ca_bundle": self.ca_bundle,
            "encryption": self.encryption,
            "max_runspaces": self.max_runspaces,
            "role": self.role,
            "tenants": list(self.tenants),
            "defined in": self.source,
        }
        for service, conn in self.services.items():
            data[service] = {k: v for k, v in vars(conn).items() if v not in (None, False)}
        return {k: v for k, v in data.items() if v not in (None, [], {})}


def _secret_from(env: str | None, file: str | None, what: str) -> str | None:
    """A secret from an environment variable or a file readable only by its owner."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"{what}: environment variable {env} is not set",
                              hint=f"export {env}=... before running psbridge.")
        return value
    if file:
        path = Path(file).expanduser()
        try:
            if path.stat().st_mode & 0o077:
                raise ConfigError(f"{what}: {path} is readable by other users",
                                  hint=f"chmod 600 {path}")
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None
    return None


def _keyring_password(profile: Profile) -> str:
    try:
        import keyring
    except ImportError:
        raise ConfigError(
            f"profile {profile.name}: password_keyring is set but the keyring package "
            "is not installed",
            hint="pip install keyring, or use password_env instead.",
        ) from None
    value: str | None = keyring.get_password("psbridge", profile.name)
    if value is None:
        raise ConfigError(
            f"profile {profile.name}: no password in the OS keyring under service "
            f"'psbridge', user '{profile.name}'",
            hint=f"keyring set psbridge {profile.name}",
        )
    return value


@dataclass(frozen=True)
class Config:
    path: Path
    default_profile: str | None
    profiles: Mapping[str, Profile]
    store_url: str | None = None  # [store] url: a shared PostgreSQL store
    queue: QueueSettings | None = None  # [queue]: Celery's broker, connections per tenant
    schedules: tuple[Mapping[str, Any], ...] = ()  # [[schedule]] entries, for worker --beat


def sandbox_profile() -> Profile:
    return Profile(name=SANDBOX, role="admin", source="built-in")


def load(path: Path | None = None) -> Config:
    """Read and validate the configuration file (a missing file is an empty config)."""
    path = path or paths.config_file()
    if not path.exists():
        return Config(path, None, {})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    unknown = sorted(set(data) - {"default_profile", "profiles", "store", "queue", "schedule"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key '{unknown[0]}'",
                          hint="Known keys: default_profile, profiles, store, queue, schedule.")
    raw_profiles = data.get("profiles", {})
    if not isinstance(raw_profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table")
    profiles = {
        name: parse_profile(name, settings, source=str(path))
        for name, settings in raw_profiles.items()
    }
    default = data.get("default_profile")
    if default is not None and default not in profiles and default != SANDBOX:
        raise ConfigError(f"{path}: default_profile '{default}' is not a profile in the file")
    return Config(path, default, profiles, parse_store(data.get("store"), path),
                  parse_queue(data.get("queue"), path),
                  parse_schedules(data.get("schedule"), path))


def parse_profile(name: str, settings: Any, *, source: str) -> Profile:
    """Validate one profile's settings; errors name the file, the profile and the key."""

    def fail(key: str, problem: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{source}: profile '{name}', key '{key}': {problem}", hint=hint)

    if not isinstance(settings, dict):
        raise ConfigError(f"{source}: profile '{name}' must be a table")
    for secret in _FORBIDDEN_SECRETS:
        if secret in settings:
            raise fail(secret, "secrets are never stored in the configuration file",
                       hint="Use password_env = \"VAR\" or password_keyring = true.")
    _check_types(settings, _PROFILE_KEYS, fail)
    endpoint = settings.get("endpoint")
    if endpoint is None:
        raise fail("endpoint", "is required (the management host's WSMan URL)")
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise fail("endpoint", f"{endpoint!r} is not an http(s) URL",
                   hint="For example https://mgmt.contoso.com:5986/wsman")
    auth = settings.get("auth", "negotiate")
    if auth not in AUTH_METHODS:
        raise fail("auth", f"must be one of {', '.join(AUTH_METHODS)}, not {auth!r}")
    if auth == "basic" and parsed.scheme == "http":
        raise fail("auth", "basic over http:// sends the password in clear text (Basic "
                   "authentication has no message encryption)",
                   hint="Use an https:// endpoint, or auth = \"negotiate\" (NTLM or Kerberos "
                        "encrypt every message over http://).")
    cloud = settings.get("cloud", "global")
    if cloud not in CLOUDS:
        raise fail("cloud", f"must be one of {', '.join(CLOUDS)}, not {cloud!r}")
    configuration = settings.get("configuration_name", DEFAULT_CONFIGURATION)
    if not configuration or any(c in configuration for c in "/\\?#& "):
        raise fail("configuration_name", f"{configuration!r} is not a session configuration "
                   "name", hint="For example Microsoft.PowerShell, PowerShell.7 or the name "
                   "of a JEA endpoint.")
    encryption = settings.get("encryption", "auto")
    if encryption not in ENCRYPTION:
        raise fail("encryption", f"must be one of {', '.join(ENCRYPTION)}, not {encryption!r}")
    role = settings.get("role", "admin")
    if role not in ROLES:
        raise fail("role", f"must be one of {', '.join(ROLES)}, not {role!r}")
    max_runspaces = settings.get("max_runspaces", 3)
    if not 1 <= max_runspaces <= 64:
        raise fail("max_runspaces", f"must be between 1 and 64, not {max_runspaces}")
    sources = [k for k in ("password_env", "password_file", "password_keyring") if settings.get(k)]
    if len(sources) > 1:
        raise fail(sources[1], "choose one password source: password_env, password_file "
                   "or password_keyring")
    if auth == "certificate" and not settings.get("certificate_pem"):
        raise fail("certificate_pem", "is required when auth is 'certificate'")
    tenants = settings.get("tenants", [])
    if not all(isinstance(t, str) and t for t in tenants):
        raise fail("tenants", "must be a list of tenant names or ids")
    services: dict[str, ServiceConnection] = {}
    for service in ("exchange", "graph"):
        if service in settings:
            sub = settings[service]

            def sub_fail(key: str, problem: str, hint: str | None = None,
                         _s: str = service) -> ConfigError:
                return fail(f"{_s}.{key}", problem, hint)

            for secret in _FORBIDDEN_SECRETS:
                if secret in sub:
                    raise sub_fail(secret, "secrets are never stored in the configuration file",
                                   hint="Use client_secret_env = \"VAR\".")
            _check_types(sub, _SERVICE_KEYS, sub_fail)
            services[service] = ServiceConnection(
                **{"authority": CLOUDS[cloud].authority, **sub})
    return Profile(
        name=name,
        endpoint=endpoint,
        configuration_name=configuration,
        cloud=cloud,
        auth=auth,
        username=settings.get("username"),
        password_env=settings.get("password_env"),
        password_file=settings.get("password_file"),
        password_keyring=settings.get("password_keyring", False),
        verify_tls=settings.get("verify_tls", True),
        ca_bundle=settings.get("ca_bundle"),
        encryption=encryption,
        max_runspaces=max_runspaces,
        role=role,
        certificate_pem=settings.get("certificate_pem"),
        certificate_key_pem=settings.get("certificate_key_pem"),
        tenants=tuple(tenants),
        services=services,
        source=source,
        agent=settings.get("agent"),
    )


def _check_types(settings: Mapping[str, Any], known: Mapping[str, type], fail: Any) -> None:
    for key, value in settings.items():
        expected = known.get(key)
        if expected is None:
            raise fail(key, f"unknown key (known: {', '.join(sorted(known))})")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise fail(key, f"must be a {expected.__name__}, not {type(value).__name__}")


def env_profile() -> Profile | None:
    """The ad-hoc profile from PSBRIDGE_ENDPOINT and friends, if PSBRIDGE_ENDPOINT is set."""
    endpoint = os.environ.get("PSBRIDGE_ENDPOINT")
    if not endpoint:
        return None
    settings: dict[str, Any] = {"endpoint": endpoint}
    if os.environ.get("PSBRIDGE_AUTH"):
        settings["auth"] = os.environ["PSBRIDGE_AUTH"]
    if os.environ.get("PSBRIDGE_USERNAME"):
        settings["username"] = os.environ["PSBRIDGE_USERNAME"]
    if "PSBRIDGE_PASSWORD" in os.environ:
        settings["password_env"] = "PSBRIDGE_PASSWORD"
    return parse_profile(ENV_PROFILE, settings, source="environment (PSBRIDGE_*)")


def resolve_profile(name: str | None, config: Config | None = None) -> Profile:
    """The profile a command runs with.

    Order: the ``--profile`` name; else the ``PSBRIDGE_*`` environment profile; else the
    file's ``default_profile``; else the embedded sandbox.
    """
    config = config or load()
    if name is None:
        from_env = env_profile()
        if from_env is not None:
            return from_env
        name = config.default_profile or SANDBOX
    if name in config.profiles:
        return config.profiles[name]
    if name == SANDBOX:
        return sandbox_profile()
    if name == ENV_PROFILE and env_profile() is not None:
        return env_profile()  # type: ignore[return-value]
    known = ", ".join([*config.profiles, SANDBOX]) if config.profiles else SANDBOX
    raise ConfigError(
        f"no profile named '{name}' in {config.path}",
        hint=f"Profiles: {known}. Add one with 'psbridge profile add'.",
    )


def write_profile(name: str, settings: Mapping[str, Any], path: Path | None = None,
                  *, make_default: bool = False) -> Path:
    """Add or replace a profile in the file, keeping the rest of it (comments included).

    The settings are validated first; the file is replaced atomically.
    """
    import tomlkit

    path = path or paths.config_file()
    parse_profile(name, dict(settings), source=str(path))
    document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else (
        tomlkit.document()
    )
    profiles = document.setdefault("profiles", tomlkit.table(is_super_table=True))
    table = tomlkit.table()
    for key, value in settings.items():
        if value is None:
            continue
        table[key] = dict(value) if isinstance(value, Mapping) else value
    profiles[name] = table
    if make_default:
        document["default_profile"] = name
    _atomic_write(path, tomlkit.dumps(document))
    return path


def remove_profile(name: str, path: Path | None = None) -> Path:
    import tomlkit

    path = path or paths.config_file()
    config = load(path)
    if name not in config.profiles:
        raise ConfigError(f"no profile named '{name}' in {path}")
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    del document["profiles"][name]
    if document.get("default_profile") == name:
        del document["default_profile"]
    _atomic_write(path, tomlkit.dumps(document))
    return path


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
