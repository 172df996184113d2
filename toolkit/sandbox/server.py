"""Start the sandbox management host in-process, in a background thread.

    with start_sandbox(SandboxOptions(https=True)) as sandbox:
        wsman = WSMan("127.0.0.1", port=sandbox.port, ssl=True, auth="basic",
                      username=sandbox.username, password=sandbox.password,
                      cert_validation=str(sandbox.ca_cert))

The backend (PowerShell engine + emulated tenant) comes from
``toolkit.sandbox.app.build_backend(options)`` unless one is passed in. Its contract:

- it returns a :class:`toolkit.sandbox.interface.Backend`;
- ``options.username`` / ``options.password`` (always set by the time it is called: a
  random password is generated when none was given) must be an ``admin`` account of it,
  in addition to the accounts of the seed;
- the returned object may have an ``identity_handler`` attribute
  (:data:`toolkit.sandbox.host.http.IdentityHandler`, e.g. ``IdentityPlatform.handle``),
  served on every path other than ``/wsman`` when the sandbox runs with HTTPS; the TLS
  material is in ``options.tls_dir`` (created before ``build_backend`` is called).
"""

from __future__ import annotations

import gc
import importlib
import ipaddress
import secrets
import ssl
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from toolkit.sandbox.errors import SandboxUnavailable
from toolkit.sandbox.host.conditions import NetworkConditions
from toolkit.sandbox.host.http import IdentityHandler, SandboxHTTPServer
from toolkit.sandbox.interface import Backend
from toolkit.sandbox.local_system import data_dir

DEFAULT_USERNAME = "sandbox-admin"


@dataclass
class SandboxOptions:
    """Everything ``psbridge sandbox serve`` takes; the tenant-level fields go to the backend."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: an ephemeral port
    https: bool = False
    username: str = DEFAULT_USERNAME
    password: str | None = None  # None: a random one is generated at start
    latency_ms: int = 0
    fault_rate: float = 0.0
    random_seed: int | None = None
    # Passed through to toolkit.sandbox.app.build_backend:
    state: Path | None = None
    seed: str | None = None  # "demo" or a path to a seed JSON file
    cmdlet_ms: int = 0
    throttle_rate: float = 0.0
    throttle_retry_s: int = 30
    command_log: Path | None = None
    mailbox_delay_s: float | None = None
    migration_speed: float | None = None  # emulated service seconds per real second
    tls_dir: Path | None = None  # None: <data dir>/sandbox/tls
    host_modules: dict[str, str] | None = None  # installed modules; None: the default set


def default_tls_dir() -> Path:
    return data_dir() / "sandbox" / "tls"


def build_backend(options: SandboxOptions) -> Backend:
    """The real backend, from ``toolkit.sandbox.app`` (imported only when needed)."""
    try:
        app = importlib.import_module("toolkit.sandbox.app")
    except ModuleNotFoundError as error:
        if error.name != "toolkit.sandbox.app":
            raise
        raise SandboxUnavailable(
            "the sandbox's PowerShell engine and tenant (toolkit.sandbox.app) are not "
            "part of this build yet, so there is nothing to serve",
            hint="Use a build that includes toolkit/sandbox/app.py.",
        ) from None
    backend: Backend = app.build_backend(options)
    return backend


@dataclass
class RunningSandbox:
    """A started sandbox: where it listens and how to sign in. Stop it with :meth:`stop`."""

    url: str
    host: str
    port: int
    username: str
    password: str
    ca_cert: Path | None
    options: SandboxOptions
    _server: SandboxHTTPServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def https(self) -> bool:
        return self.ca_cert is not None

    @property
    def backend(self) -> Backend:
        return self._server.backend

    def idle_for(self) -> float:
        """Seconds without any client connection (0 while one is open)."""
        return self._server.idle_for()

    def stop(self) -> None:
        """Stop serving and close every runspace pool; idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
            self._server.server_close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def tls_context(tls_dir: Path) -> tuple[ssl.SSLContext, Path, bytes]:
    from toolkit.sandbox.identity.certs import ensure_tls_material

    material = ensure_tls_material(tls_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(material.server_cert, material.server_key)
    certificate_der = ssl.PEM_cert_to_DER_cert(material.server_cert.read_text())
    return context, material.ca_cert, certificate_der


def settle_heap() -> None:
    """Leave what a sandbox process holds from its start (the seeded tenants, the modules,
    the parsed templates) out of the garbage collector's full passes, for the life of the
    process. Each pass otherwise walks all of it: with a 1,800-mailbox seed, a pass froze
    every runspace for 100 to 170 ms, a stall no real management host has. Only for a
    process that serves and exits (``sandbox serve``, the shared sandbox), not for one that
    embeds the sandbox among other work."""
    gc.freeze()


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def start_sandbox(
    options: SandboxOptions | None = None,
    *,
    backend: Backend | None = None,
    identity_handler: IdentityHandler | None = None,
) -> RunningSandbox:
    """Start serving in a daemon thread and return once the port is bound.

    ``backend`` defaults to :func:`build_backend`; ``identity_handler`` defaults to the
    backend's ``identity_handler`` attribute (served with HTTPS only).
    """
    options = replace(options or SandboxOptions())
    try:
        conditions = NetworkConditions(options.latency_ms, options.fault_rate, options.random_seed)
    except ValueError as error:
        raise SandboxUnavailable(str(error)) from None
    if options.password is None:
        options.password = secrets.token_urlsafe(18)
    if options.https and options.tls_dir is None:
        options.tls_dir = default_tls_dir()

    ssl_context: ssl.SSLContext | None = None
    ca_cert: Path | None = None
    certificate_der = b""
    if options.https:
        assert options.tls_dir is not None
        ssl_context, ca_cert, certificate_der = tls_context(options.tls_dir)

    backend = backend if backend is not None else build_backend(options)
    if options.https and identity_handler is None:
        identity_handler = getattr(backend, "identity_handler", None)
    try:
        server = SandboxHTTPServer(
            (options.host, options.port),
            backend,
            conditions=conditions,
            ssl_context=ssl_context,
            identity_handler=identity_handler if options.https else None,
        )
    except OSError as error:
        raise SandboxUnavailable(
            f"cannot listen on {options.host}:{options.port}: {error.strerror}",
            hint="Choose another --port (0 picks a free one).",
        ) from None
    if certificate_der:
        server.use_certificate(certificate_der)

    port = server.server_address[1]
    scheme = "https" if options.https else "http"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="sandbox-http", daemon=True
    )
    thread.start()
    return RunningSandbox(
        url=f"{scheme}://{_url_host(options.host)}:{port}/wsman",
        host=options.host,
        port=port,
        username=options.username,
        password=options.password,
        ca_cert=ca_cert,
        options=options,
        _server=server,
        _thread=thread,
    )
