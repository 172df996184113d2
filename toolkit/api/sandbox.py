"""The embedded sandbox: serve it, point a profile at it, approve a sign-in, stop the shared one.

The sandbox is reached only through its entry point
(:func:`toolkit.core.sandbox_plugin.sandbox_plugin`), as everywhere in the product.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from toolkit.core.errors import ConnectionFailed, InputError
from toolkit.core.sandbox_plugin import sandbox_plugin

DEFAULT_HTTP_PORT = 5985
DEFAULT_HTTPS_PORT = 5986


class RunningSandbox(Protocol):
    """A started sandbox: where it listens and how to sign in. Stop it with :meth:`stop`."""

    url: str
    host: str
    port: int
    username: str
    password: str
    ca_cert: Path | None

    @property
    def https(self) -> bool: ...

    @property
    def backend(self) -> Any: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class StoppedSandbox:
    """The shared sandbox server that :func:`stop_shared_sandbox` stopped."""

    url: str
    pid: int


@dataclass(frozen=True)
class Approval:
    """A device-code sign-in the sandbox approved: its code and the account signed in."""

    user_code: str
    account: str | None


def start_sandbox(*, port: int | None = None, https: bool = False, username: str | None = None,
                  host_modules: Mapping[str, str] | None = None,
                  without_modules: Sequence[str] = (), serving_process: bool = False,
                  **options: Any) -> RunningSandbox:
    """Serve the sandbox in this process until :meth:`RunningSandbox.stop`.

    ``port``: default 5985, or 5986 with ``https`` (0 picks a free one); ``username``: the
    admin account (default ``sandbox-admin``); ``host_modules`` (name: version) and
    ``without_modules`` change the emulated host's default modules. ``options`` are the
    other settings of the sandbox (``host``, ``state``, ``seed``, ``password``,
    ``latency_ms``, ``cmdlet_ms``, ``fault_rate``, ``throttle_rate``, ``throttle_retry_s``,
    ``random_seed``, ``command_log``, ``mailbox_delay_s``, ``migration_speed``).
    ``serving_process``: this process does nothing else until it exits (``psbridge sandbox
    serve``); what the sandbox loaded at start is then left out of the garbage collector's
    passes, which would otherwise stall every runspace for a tenth of a second at a time.
    A bad seed or state file, or a port in use, raises :class:`InputError`.
    """
    plugin = sandbox_plugin()
    if port is None:
        port = DEFAULT_HTTPS_PORT if https else DEFAULT_HTTP_PORT
    settings = plugin.SandboxOptions(
        port=port, https=https, username=username or plugin.DEFAULT_USERNAME,
        host_modules=_module_inventory(host_modules or {}, without_modules), **options)
    try:
        running: RunningSandbox = plugin.start_sandbox(settings)
    except plugin.SandboxUnavailable as exc:
        raise InputError(exc.message, hint=exc.hint) from None
    if serving_process:
        plugin.settle_heap()
    return running


def _module_inventory(versions: Mapping[str, str], missing: Sequence[str]
                      ) -> dict[str, str] | None:
    """The emulated host's modules: the default set, changed (None: left as it is)."""
    if not versions and not missing:
        return None
    modules = {**sandbox_plugin().DEFAULT_HOST_MODULES, **versions}
    for name in missing:
        modules.pop(name, None)
    return modules


def write_sandbox_profile(name: str, running: RunningSandbox) -> Path:
    """Add or replace profile ``name`` in the config file, pointing at ``running`` (served
    with https); its password goes in a 0600 file under the data folder. Returns the
    config file."""
    from toolkit.core import config, paths

    password_file = paths.data_dir() / "sandbox" / "profiles" / f"{name}.password"
    password_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(running.password)
    settings: dict[str, Any] = {
        "endpoint": running.url,
        "auth": "ntlm",
        "username": running.username,
        "password_file": str(password_file),
        "ca_bundle": str(running.ca_cert),
        "role": "admin",
    }
    backend_settings = getattr(running.backend, "profile_settings", None)
    if callable(backend_settings):
        settings.update(backend_settings(running.url.removesuffix("/wsman")))
    return config.write_profile(name, settings)


def approve_sign_in(code: str, profile: str | None = None) -> Approval:
    """Approve a device-code sign-in waiting on the running sandbox that ``profile`` (None:
    the default one) points at, as the profile's sandbox account.

    Raises :class:`InputError` for the embedded sandbox (it lives only while a command
    runs) or a code the sandbox refuses, :class:`ConnectionFailed` when it cannot be reached.
    """
    import requests

    from toolkit.core.config import resolve_profile

    resolved = resolve_profile(profile)
    if resolved.endpoint is None:
        raise InputError(
            "approve needs a sandbox that keeps running: the embedded one lives only "
            "while a command runs",
            hint="psbridge sandbox serve --write-profile lab, then "
            "psbridge --profile lab sandbox approve CODE",
        )
    base = resolved.endpoint.removesuffix("/wsman")
    session = requests.Session()
    session.trust_env = False  # loopback: no proxy, and our CA bundle, not the environment's
    session.verify = resolved.ca_bundle or resolved.verify_tls
    try:
        response = session.post(f"{base}/_sandbox/devicecode/approve",
                                json={"user_code": code},
                                auth=(resolved.username or "", resolved.password() or ""),
                                timeout=30)
    except requests.RequestException as exc:
        raise ConnectionFailed(f"cannot reach the sandbox at {base}: {exc}") from None
    try:
        answer = response.json()
    except json.JSONDecodeError:
        answer = {}
    if response.status_code != 200:
        reason = (answer.get("error_description") or answer.get("message")
                  or answer.get("error") or response.text)
        raise InputError(f"the sandbox refused to approve {code}: {reason}")
    return Approval(answer.get("user_code", code), answer.get("account"))


def stop_shared_sandbox() -> StoppedSandbox | None:
    """Stop the sandbox server that commands on the ``sandbox`` profile share for this data
    folder (its tenant is kept; the next command starts it again). None: none was running."""
    from toolkit.core.target import sandbox_dir

    stopped = sandbox_plugin().stop_shared(sandbox_dir())
    return None if stopped is None else StoppedSandbox(stopped.url, stopped.pid)
