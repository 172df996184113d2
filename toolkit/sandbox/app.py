"""The sandbox backend: the PowerShell engine with the emulated tenant plugged in.

:func:`build_backend` is what :mod:`toolkit.sandbox.server` serves. It loads the world
(``--state`` when the file exists, else ``--seed``: ``demo`` by default or a seed file),
adds the command-line admin account, builds the identity platform when serving HTTPS,
registers every emulated cmdlet and returns a :class:`SandboxBackend`.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit.sandbox.errors import SandboxUnavailable
from toolkit.sandbox.interface import OutputSink, PipelineSpec, SessionContext
from toolkit.sandbox.pwsh.engine import Engine
from toolkit.sandbox.pwsh.runspace import PwshRunspace
from toolkit.sandbox.server import SandboxOptions
from toolkit.sandbox.tenant.cmdlet_support import TenantServices
from toolkit.sandbox.tenant.demo import demo_world, large_seed
from toolkit.sandbox.tenant.model import Account, World
from toolkit.sandbox.tenant.registration import tenant_registry
from toolkit.sandbox.tenant.seed import SeedError, load_seed, load_seed_file
from toolkit.sandbox.tenant.store import StateFileError, TenantSettings, TenantStore

DEFAULT_MAILBOX_DELAY_S = 5.0


class SandboxRunspace:
    """A runspace whose closing also ends the service connections it held."""

    def __init__(self, inner: PwshRunspace, services: TenantServices):
        self.inner = inner
        self.services = services

    def invoke(self, spec: PipelineSpec, sink: OutputSink, stop: threading.Event) -> None:
        with self.services.store.deferred_saves():  # one state write per pipeline
            self.inner.invoke(spec, sink, stop)

    def close(self) -> None:
        self.services.release(self.inner.state)
        self.inner.close()


class SandboxBackend:
    """Implements :class:`toolkit.sandbox.interface.Backend`."""

    def __init__(self, services: TenantServices, engine: Engine,
                 secret_dir: Path | None = None):
        self.services = services
        self.engine = engine
        self.secret_dir = secret_dir
        identity = services.identity
        self.identity_handler: Callable[..., Any] | None = (
            identity.handle if identity is not None else None)

    @property
    def store(self) -> TenantStore:
        return self.services.store

    def _account(self, username: str) -> Account | None:
        return self.store.account(username)

    def authenticate(self, username: str, password: str) -> SessionContext | None:
        account = self._account(username)
        if account is None or not hmac.compare_digest(account.password.encode(),
                                                      password.encode()):
            return None
        return SessionContext(account=account.username, role=account.role)

    def account_password(self, username: str) -> str | None:
        account = self._account(username)
        return account.password if account is not None else None

    def open_runspace(self, context: SessionContext) -> SandboxRunspace:
        return SandboxRunspace(self.engine.open_runspace(context), self.services)

    def profile_settings(self, base_url: str) -> dict[str, Any]:
        """The psbridge profile sections that sign in to this sandbox's services.

        Uses the first app registration with a client secret, in its first tenant; the
        other tenants it is consented in become the profile's customer tenants. The
        secret goes to a file only its owner can read (profiles never hold secrets).
        """
        world = self.store.world
        app = next((a for a in world.apps if a.client_secret and a.tenants), None)
        if app is None or app.client_secret is None or self.secret_dir is None:
            return {}
        self.secret_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret_file = self.secret_dir / f"app-{app.client_id}.secret"
        descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(app.client_secret)
        home = app.tenants[0]
        connection = {"authority": base_url, "app_id": app.client_id,
                      "client_secret_file": str(secret_file)}
        return {
            "exchange": {"organization": home, **connection},
            "graph": {"tenant_id": home, **connection},
            "tenants": list(app.tenants[1:]),
        }


def load_world(seed: str | None) -> World:
    """``demo`` (also the default), ``large[:MAILBOXES[:GRANTS]]`` (a benchmark tenant,
    5,000 mailboxes and 20,000 grants by default) or a seed JSON file."""
    if seed is None or seed == "demo":
        return demo_world()
    if seed == "large" or seed.startswith("large:"):
        sizes = [int(part) for part in seed.split(":")[1:] if part.isdigit()]
        if len(sizes) != len(seed.split(":")) - 1 or len(sizes) > 2:
            raise SeedError(f"--seed {seed}: expected large, large:MAILBOXES or "
                            "large:MAILBOXES:GRANTS")
        return load_seed(large_seed(*sizes))
    return load_seed_file(Path(seed))


def add_admin(world: World, username: str, password: str) -> None:
    """The command-line account: an admin of every tenant (replaces a same-named one)."""
    world.accounts = [a for a in world.accounts if a.username.casefold() != username.casefold()]
    world.accounts.append(Account(username, password, "admin", []))


def identity_platform(world: World, state_dir: Path) -> Any:
    """Microsoft's identity platform for the world's tenants, apps and accounts."""
    from toolkit.sandbox.identity import Account as IdAccount
    from toolkit.sandbox.identity import AppRegistration as IdApp
    from toolkit.sandbox.identity import IdentityPlatform
    from toolkit.sandbox.identity import Tenant as IdTenant

    tenants = [IdTenant(t.name, t.id, tuple(d.name for d in t.domains
                                             if d.verified and not d.initial),
                        tuple(t.active_partners()))
               for t in world.tenants.values()]
    apps = [IdApp(a.client_id, a.client_secret, a.certificate_pem, tuple(a.tenants),
                  tuple(a.roles), a.display_name) for a in world.apps]
    accounts = [IdAccount(a.username, a.password, a.role,
                          a.tenants[0] if a.tenants else None) for a in world.accounts]
    return IdentityPlatform(tenants, apps, accounts, state_dir=state_dir)


def build_backend(options: SandboxOptions) -> SandboxBackend:
    settings = TenantSettings(
        mailbox_delay_s=DEFAULT_MAILBOX_DELAY_S if options.mailbox_delay_s is None
        else options.mailbox_delay_s,
        migration_speed=options.migration_speed or 1.0,
    )
    try:
        store = TenantStore.open(lambda: load_world(options.seed), state_path=options.state,
                                 settings=settings, random_seed=options.random_seed)
    except SeedError as error:
        raise SandboxUnavailable(f"bad seed: {error}",
                                 hint="Fix the seed file, or use --seed demo.") from None
    except StateFileError as error:
        raise SandboxUnavailable(str(error), hint="Delete the file or choose another --state."
                                 ) from None
    with store.write() as world:
        add_admin(world, options.username, options.password or "")
        identity = (identity_platform(world, options.tls_dir)
                    if options.https and options.tls_dir is not None else None)
    services = TenantServices(
        store,
        identity=identity,
        cmdlet_ms=options.cmdlet_ms,
        throttle_rate=options.throttle_rate,
        throttle_retry_s=options.throttle_retry_s,
        random_seed=options.random_seed,
        command_log=options.command_log,
    )
    secret_dir = options.tls_dir.parent if options.tls_dir is not None else None
    return SandboxBackend(services, Engine(tenant_registry(services), options.host_modules),
                          secret_dir)
