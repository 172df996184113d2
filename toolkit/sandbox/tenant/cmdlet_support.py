"""What every emulated cmdlet shares: services, connections, RBAC, knobs, command log.

An emulated cmdlet is a small function ``impl(call)`` over a :class:`Call`; :func:`register`
wraps it with what the real services do around every call:

1. ``--cmdlet-ms``: the time the service takes (slept outside the store lock), the
   emulator's own work counted into it (:func:`_service_delay`);
2. the connection check: a service cmdlet before its ``Connect-*`` fails as the real
   module fails; the tenant comes from the runspace's connection;
3. ``--throttle-rate``: that share of Exchange calls fails as throttled; a throttled Graph
   call is retried by the emulated SDK, and fails ("Too many retries performed") only when
   its retries are throttled too;
4. the store lock (read or write), inside which the output is fully built;
5. :class:`~toolkit.sandbox.tenant.errors.TenantError` -> an error record;
6. one command-log line per call, secrets masked; ``warned`` marks a call that wrote a
   warning (for a change, Exchange's "already so": nothing was applied).

RBAC: a helpdesk account sees only read cmdlets and password resets; other cmdlets are
invisible to it (``CommandNotFoundException``), as Exchange RBAC hides them.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.sandbox.interface import SessionContext, pipeline_clock
from toolkit.sandbox.pwsh.cmdlets import (
    CmdletContext,
    CmdletError,
    CmdletRegistry,
    CmdletTerminatingError,
)
from toolkit.sandbox.pwsh.param_types import identity_value
from toolkit.sandbox.pwsh.spec import cmdlet_specs
from toolkit.sandbox.tenant import errors
from toolkit.sandbox.tenant.identity_resolution import Resolver
from toolkit.sandbox.tenant.mailboxes import MultiValueEdit
from toolkit.sandbox.tenant.migration_csv import csv_addresses
from toolkit.sandbox.tenant.model import Account, Tenant, World
from toolkit.sandbox.tenant.store import TenantStore
from toolkit.sandbox.values import Hashtable, PSObject, SecureString

EXCHANGE = "exchange"
GRAPH = "graph"
PRODUCT_EXCHANGE_ONLINE = "Exchange Online"
MAX_EXCHANGE_CONNECTIONS = 3
GRAPH_SDK_RETRIES = 3  # the Graph SDK's RetryHandler default (msgraph-sdk-powershell#1106)
MASK = "********"
# Accepted everywhere and without effect here (prompts, routing hints, HTTP plumbing).
IGNORED_PARAMETERS = ("Confirm", "WhatIf", "Force", "Headers", "Proxy", "ProxyCredential",
                      "ProxyUseDefaultCredentials", "HttpPipelineAppend", "HttpPipelinePrepend",
                      "Break", "ResponseHeadersVariable", "PassThru", "IgnoreDefaultScope")
_IGNORED_FOLDED = frozenset(p.casefold() for p in IGNORED_PARAMETERS)
SECRET_PARAMETERS = frozenset(p.casefold() for p in (
    "Password", "NewPassword", "CSVData", "AccessToken", "PasswordProfile", "Credential",
    "Credentials", "CertificatePassword", "ClientSecretCredential", "ServiceAccountKeyFileData",
    "AdGraphAccessToken", "MsGraphAccessToken", "RoomMailboxPassword", "XMLData",
))


# ---------------------------------------------------------------------- connections


@dataclass
class Connection:
    """A service connection held by a runspace (``ctx.state[service]``)."""

    service: str
    tenant: str  # the tenant the cmdlets act on
    principal: str  # who is signed in: a sandbox account, a UPN or an app id
    auth_type: str  # "Delegated", "AppOnly", "UserProvidedAccessToken"
    organization: str | None = None  # where the principal signed in (differs for partners)
    connection_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    app_id: str | None = None
    certificate_thumbprint: str | None = None
    delegated: bool = False
    # -DelegatedOrganization as given with -AccessToken: shown, but not acted on.
    delegated_as: str | None = None
    # A partner's role in this (customer) tenant, from its GDAP relationship: "helpdesk"
    # keeps the admin cmdlets from it, as the customer's RBAC would.
    partner_role: str | None = None
    token_expiry: float | None = None
    scopes: list[str] = field(default_factory=list)
    counted_as: str | None = None  # the limiter key of an Exchange connection


class ConnectionLimiter:
    """Exchange Online's limit of concurrent connections per principal, across runspaces.

    Throttling policies belong to the tenant acted on (PowerShellMaxConcurrency, 3 per user
    in a tenant's policy), so a partner admin or a multi-tenant app gets 3 in each tenant.
    """

    def __init__(self, limit: int = MAX_EXCHANGE_CONNECTIONS):
        self.limit = limit
        self._lock = threading.Lock()
        self._open: dict[str, dict[str, str]] = {}  # principal -> connection id -> tenant

    def acquire(self, principal: str, connection_id: str, tenant: str = "") -> None:
        key = principal.casefold()
        with self._lock:
            held = self._open.setdefault(key, {})
            in_tenant = sum(1 for c, t in held.items() if t == tenant and c != connection_id)
            if connection_id not in held and in_tenant >= self.limit:
                raise errors.too_many_connections()
            held[connection_id] = tenant

    def release(self, principal: str, connection_id: str) -> None:
        with self._lock:
            self._open.get(principal.casefold(), {}).pop(connection_id, None)

    def count(self, principal: str) -> int:
        with self._lock:
            return len(self._open.get(principal.casefold(), {}))


# ---------------------------------------------------------------------- services


@dataclass
class TenantServices:
    """Everything the emulated cmdlets share across runspaces."""

    store: TenantStore
    identity: Any = None  # toolkit.sandbox.identity.IdentityPlatform, when serving HTTPS
    cmdlet_ms: int = 0
    throttle_rate: float = 0.0
    throttle_retry_s: int = 30  # the longest Retry-After a throttled call asks for
    random_seed: int | None = None
    command_log: Path | None = None
    limiter: ConnectionLimiter = field(default_factory=ConnectionLimiter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.random_seed)
        self._rng_lock = threading.Lock()
        self._log_lock = threading.Lock()

    def throttled(self) -> bool:
        if self.throttle_rate <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < self.throttle_rate

    def graph_sdk_gives_up(self) -> bool:
        """A throttled Graph call the SDK's own retries (three by default) did not rescue."""
        return self.throttled() and all(self.throttled() for _ in range(GRAPH_SDK_RETRIES))

    def retry_after(self) -> int:
        with self._rng_lock:
            return self._rng.randint(min(2, self.throttle_retry_s), self.throttle_retry_s)

    def release(self, state: dict[str, Any]) -> None:
        """A runspace closed: its Exchange connection stops counting."""
        connection = state.get(EXCHANGE)
        if isinstance(connection, Connection) and connection.counted_as:
            self.limiter.release(connection.counted_as, connection.connection_id)

    def log(self, record: dict[str, Any]) -> None:
        if self.command_log is None:
            return
        line = json.dumps(record, default=str, ensure_ascii=False)
        with self._log_lock, open(self.command_log, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def account_of(world: World, session: SessionContext) -> Account:
    """The sandbox account behind a session; unknown ones act as admins of every tenant."""
    folded = session.account.casefold()
    found = next((a for a in world.accounts if a.username.casefold() == folded), None)
    return found or Account(session.account, "", session.role, [])


def home_tenant(world: World, account: Account) -> Tenant:
    if account.tenants and account.tenants[0] in world.tenants:
        return world.tenants[account.tenants[0]]
    if not world.tenants:
        raise errors.exchange_auth("The sandbox has no tenants; start it with a seed.")
    return next(iter(world.tenants.values()))


# ---------------------------------------------------------------------- calls


@dataclass
class Call:
    """One invocation of an emulated cmdlet, as its implementation sees it."""

    ctx: CmdletContext
    params: dict[str, Any]
    services: TenantServices
    world: World
    tenant: Tenant  # the connected tenant (the home tenant for connect cmdlets)
    connection: Connection | None
    warned: bool = False  # a warning was written (for a change: it was already so)

    @property
    def store(self) -> TenantStore:
        return self.services.store

    @property
    def resolver(self) -> Resolver:
        return self.store.resolver(self.tenant)

    def warn(self, message: str) -> None:
        self.warned = True
        self.ctx.write_warning(message)

    def has(self, name: str) -> bool:
        return name in self.params and self.params[name] is not None

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is None:
            return None
        value = identity_value(value)
        return None if value is None else str(value)

    def reject_unsupported(self, supported: Iterable[str]) -> None:
        """Refuse, loudly, a parameter the spec allows but the sandbox does not emulate."""
        folded_supported: set[str] | None = None  # folded only when a parameter needs it
        for key, value in self.params.items():
            folded = key.casefold()
            if folded in _IGNORED_FOLDED:
                continue
            if folded_supported is None:
                folded_supported = {s.casefold() for s in supported}
            if folded not in folded_supported and value not in (None, False):
                raise errors.invalid_argument(
                    f"The sandbox doesn't emulate {self.ctx.cmdlet_name} -{key}.")

    def strings(self, name: str) -> list[str]:
        value = self.params.get(name)
        if value is None:
            return []
        items = value if isinstance(value, list | tuple) else [value]
        return [str(identity_value(v)) for v in items if v is not None]


Impl = Callable[[Call], Iterable[Any] | None]


def register(
    registry: CmdletRegistry,
    services: TenantServices,
    name: str,
    impl: Impl,
    *,
    service: str | None,
    writes: bool,
    helpdesk: bool = False,
    local: bool = False,
) -> None:
    """Register ``impl`` as cmdlet ``name`` with the shared behaviour described above;
    ``local``: it reads the module's own session on the host and calls no service, so it
    takes no service time."""
    module = str(cmdlet_specs()[name]["module"])
    product = PRODUCT_EXCHANGE_ONLINE if module == "ExchangePowerShell" else None
    module_service = module_service_of(module)

    def visible(session: SessionContext) -> bool:
        return helpdesk or session.role == "admin"

    def run(ctx: CmdletContext, params: dict[str, Any]) -> list[Any]:
        if not local:
            _service_delay(services, ctx)
        tenant_name: str | None = None
        outcome: str | None = "error"
        call: Call | None = None
        try:
            connection = _connection(ctx, service, name) if service else None
            if service == EXCHANGE and services.throttled():
                raise errors.exchange_throttled(services.retry_after())
            if service == GRAPH and services.graph_sdk_gives_up():
                raise errors.graph_retries_exhausted()
            store = services.store
            with store.write() if writes else store.read() as world:
                if connection is not None:
                    tenant = world.tenants[connection.tenant]
                else:
                    tenant = home_tenant(world, account_of(world, ctx.session))
                tenant_name = tenant.name
                if connection is not None and connection.partner_role == "helpdesk" and (
                        not helpdesk):
                    raise (errors.graph_forbidden() if service == GRAPH
                           else errors.not_connected_exchange(name))
                call = Call(ctx, params, services, world, tenant, connection)
                result = list(impl(call) or [])
            outcome = None
            return result
        except errors.TenantError as error:
            outcome = error.code
            record = errors.to_error_record(error, name, ctx.parameter_set,
                                            params.get("Identity"))
            if error.code in ("CommandNotFoundException", "PSRemotingTransportException"):
                raise CmdletTerminatingError(record) from None
            raise CmdletError(record) from None
        finally:
            if services.command_log is not None:
                services.log({
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                    "tenant": tenant_name,
                    "account": ctx.session.account,
                    # Which runspace ran it, and whose module the cmdlet is (connect cmdlets
                    # included): Exchange and Graph must not share a runspace.
                    "runspace": _runspace_id(ctx),
                    "cmdlet": name,
                    "service": module_service,
                    "parameters": mask_parameters(params),
                    "ok": outcome is None,
                    **({"error": outcome} if outcome else {}),
                    **({"warned": True} if call is not None and call.warned else {}),
                })

    registry.register(name, run, product=product, visible=visible)


def module_service_of(module: str) -> str | None:
    """The service a cmdlet's module belongs to: ``exchange`` (ExchangeOnlineManagement),
    ``graph`` (the Microsoft.Graph modules), else None (MSOnline)."""
    if module == "ExchangePowerShell":
        return EXCHANGE
    return GRAPH if module.startswith("Microsoft.Graph.") else None


def _runspace_id(ctx: CmdletContext) -> str:
    """The command log's id of the runspace, made on its first logged call."""
    runspace = ctx.state.get("runspace")
    if runspace is None:
        runspace = ctx.state["runspace"] = str(uuid.uuid4())
    return str(runspace)


def _service_delay(services: TenantServices, ctx: CmdletContext) -> None:
    """``--cmdlet-ms``: each call returns that long after the previous call of its pipeline
    was due to end (or after the pipeline started), on the host's clock
    (:class:`~toolkit.sandbox.interface.PipelineClock`).

    The emulator's own time since then counts toward it. A real management host's
    PowerShell runs a script's lines between two calls in a fraction of a millisecond;
    this Python emulator takes one to two milliseconds per audited mailbox, and 0.5 to 1.5
    ms more a call while 3 runspaces wait for one another on one interpreter (2 cores).
    Added to every call's service time, that would be the emulator's slowness billed to
    the client. Time the pipeline waits on the client is not counted: a client slow to send
    input or take output is as slow here as on a real host. Measured from when the last
    call was due, not when it returned, a wait that overslept is taken from the next one.
    """
    if services.cmdlet_ms <= 0:
        return
    clock = pipeline_clock()
    now = clock.host_seconds()
    wait = max(0.0, services.cmdlet_ms / 1000 - (now - clock.service_due))
    clock.service_due = now + wait
    ctx.stop.wait(wait)


def _connection(ctx: CmdletContext, service: str, name: str) -> Connection:
    connection = ctx.state.get(service)
    if isinstance(connection, Connection):
        if connection.token_expiry is not None and connection.token_expiry < time.time():
            message = "Lifetime validation failed, the token is expired."
            raise (errors.graph_auth(message) if service == GRAPH
                   else errors.exchange_auth(f"UnAuthorized: {message}"))
        return connection
    if service == EXCHANGE:
        raise errors.not_connected_exchange(name)
    raise errors.graph_not_connected()


# ---------------------------------------------------------------------- values


def mask_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """Bound parameters for the command log: secrets masked, objects reduced to text."""
    return {key: _masked(key, value) if key.casefold() in SECRET_PARAMETERS
            else _loggable(value) for key, value in params.items()}


def _masked(key: str, value: Any) -> Any:
    """A secret parameter's log entry: a migration CSV shows whose rows it carries (the
    EmailAddress column), never its other columns; anything else is masked whole."""
    if key.casefold() != "csvdata" or not isinstance(value, bytes | bytearray | list):
        return MASK
    try:
        addresses = csv_addresses(bytes(value))
    except (TypeError, ValueError, errors.TenantError):
        return MASK
    return MASK if addresses is None else {"EmailAddress": addresses, "other columns": MASK}


def _loggable(value: Any) -> Any:
    if isinstance(value, SecureString):
        return MASK
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, Hashtable | dict):
        return {str(k): MASK if str(k).casefold() in SECRET_PARAMETERS else _loggable(v)
                for k, v in value.items()}
    if isinstance(value, PSObject):
        if "Password" in value.properties:
            return {"UserName": value.get("UserName"), "Password": MASK}
        return identity_value(value)
    if isinstance(value, list | tuple):
        return [_loggable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def multi_value_edit(value: Any) -> MultiValueEdit:
    """A MultiValuedProperty argument: ``@{Add=...; Remove=...}`` edits, anything else
    replaces the whole list."""

    def items(raw: Any) -> list[str]:
        values = raw if isinstance(raw, list | tuple) else [raw]
        return [str(identity_value(v)) for v in values if v is not None]

    if isinstance(value, Hashtable):
        unknown = [k for k in value if str(k).casefold() not in ("add", "remove")]
        if unknown:
            raise errors.invalid_argument(
                f"The hash table key \"{unknown[0]}\" isn't supported; use Add and Remove.")
        return MultiValueEdit(add=items(value.get("Add")), remove=items(value.get("Remove")))
    return MultiValueEdit(replace=items(value) if value is not None else [])


RESULT_SIZE_WARNING = (
    "By default, only the first 1000 items are returned. Use the ResultSize parameter to "
    "specify the number of items returned. To return all items, specify \"-ResultSize "
    "Unlimited\". Be aware that, depending upon the actual number of items, returning all "
    "items can take a long time and consume a large amount of memory. Also, we don't "
    "recommend storing the results in a variable. Instead, pipe the results to another "
    "task or script to perform batch changes."
)


def limit_results(call: Call, items: list[Any], default: int = 1000) -> list[Any]:
    """Apply ``-ResultSize`` as Exchange does, warning when the default cut the list."""
    size = call.params.get("ResultSize")
    if size == "Unlimited":
        return items
    if size is None:
        if len(items) > default:
            call.warn(RESULT_SIZE_WARNING)
        return items[:default]
    return items[: int(size)]
