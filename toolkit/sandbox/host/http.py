"""The sandbox's HTTP(S) server: POST /wsman to WSMan, every other path to the identity handler.

One thread per connection (``ThreadingHTTPServer``, daemon threads), HTTP/1.1 keep-alive
because NTLM authenticates a connection, and Nagle's algorithm off: without it every
small response waits about 40 ms for the client's delayed ACK on loopback. With TLS, the
handshake runs on the connection's own thread so a slow client never blocks ``accept``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from spnego.channel_bindings import GssChannelBindings

from toolkit.sandbox.host import faults, message_encryption, soap
from toolkit.sandbox.host.auth import ConnectionAuth, challenge
from toolkit.sandbox.host.conditions import InjectedFault, NetworkConditions
from toolkit.sandbox.host.faults import WSManFault
from toolkit.sandbox.host.wsman import WSManService
from toolkit.sandbox.interface import Backend, SessionContext

log = logging.getLogger(__name__)

IdentityHandler = Callable[
    [str, str, str, Mapping[str, str], bytes], tuple[int, dict[str, str], bytes]
]
"""``handle(method, path, query, headers, body) -> (status, headers, body)``."""

WSMAN_PATH = "/wsman"
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
MAX_BODY = 64 * 1024 * 1024
UNAUTHENTICATED_BODY = 64 * 1024  # read before credentials are checked, at most
TLS_HANDSHAKE_TIMEOUT = 10.0


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        backend: Backend,
        *,
        conditions: NetworkConditions | None = None,
        ssl_context: ssl.SSLContext | None = None,
        identity_handler: IdentityHandler | None = None,
    ):
        # Set before binding: a failed bind calls server_close(), which closes the shells.
        self.backend = backend
        self.wsman = WSManService(backend, machine=socket.gethostname())
        self.conditions = conditions or NetworkConditions()
        self.ssl_context = ssl_context
        self.identity_handler = identity_handler
        self.channel_bindings: GssChannelBindings | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._last_activity = time.monotonic()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SandboxRequestHandler)

    def use_certificate(self, certificate_der: bytes) -> None:
        """Bind NTLM over HTTPS to this certificate (RFC 5929 tls-server-end-point)."""
        digest = hashlib.sha256(certificate_der).digest()
        self.channel_bindings = GssChannelBindings(
            application_data=b"tls-server-end-point:" + digest
        )

    def idle_for(self) -> float:
        """Seconds since the last client connection closed; 0 while one is open."""
        with self._connections_lock:
            return 0.0 if self._connections else time.monotonic() - self._last_activity

    def finish_request(self, request: Any, client_address: Any) -> None:
        raw = request
        with self._connections_lock:
            self._connections.add(raw)
        try:
            if self.ssl_context is not None:
                request.settimeout(TLS_HANDSHAKE_TIMEOUT)
                try:
                    request = self.ssl_context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError) as error:
                    log.debug("TLS handshake with %s failed: %s", client_address, error)
                    return
                request.settimeout(None)
            super().finish_request(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(raw)
                self._last_activity = time.monotonic()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request is normal (a killed job); anything else is a bug."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, ssl.SSLError)):
            log.debug("connection from %s lost: %s", client_address, error)
        else:
            log.exception("request from %s failed", client_address)

    def server_close(self) -> None:
        """Stop listening, close every shell, and cut open client connections."""
        super().server_close()
        self.wsman.close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.auth = ConnectionAuth(self.server.backend, self.server.channel_bindings)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def do_POST(self) -> None:
        self._route("POST")

    def do_GET(self) -> None:
        self._route("GET")

    # -- routing ------------------------------------------------------------------------------

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        if url.path.rstrip("/").lower() == WSMAN_PATH:
            self._wsman(method)
            return
        body = self._read_body()
        if body is not None and not self._inject_fault():
            self._identity(method, url.path, url.query, body)

    def _read_body(self, limit: int = MAX_BODY, refusal: tuple[int, list[tuple[str, str]]]
                   = (413, [])) -> bytes | None:
        """The request body, or None once the request was answered (400 for a bad
        Content-Length, ``refusal`` for one over ``limit``) with the connection closed:
        nothing more is read from it."""
        text = (self.headers.get("Content-Length") or "0").strip()
        if not text.isdigit():  # negative, signed, hexadecimal, or not a number at all
            self._send_and_close(400, [])
            return None
        length = int(text)
        if length > limit:
            self._send_and_close(*refusal)
            return None
        return self.rfile.read(length) if length else b""

    def _send_and_close(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.close_connection = True
        self._send(status, [*headers, ("Connection", "close")], b"")

    def _identity(self, method: str, path: str, query: str, body: bytes) -> None:
        handler = self.server.identity_handler
        if handler is None:
            message = b"Not found: this sandbox serves /wsman only (identity needs --https)."
            self._send(404, [("Content-Type", "text/plain")], message)
            return
        status, headers, payload = handler(method, path, query, dict(self.headers.items()), body)
        self._send(status, list(headers.items()), payload)

    def _inject_fault(self) -> bool:
        """Fail this request as ``--fault-rate`` says; True when it was failed.

        Each injected fault is announced on the console, so whoever set the rate (a test
        that claims to survive faults) can see that faults happened."""
        fault = self.server.conditions.draw_fault()
        if fault is not None:
            print(f"injected fault ({fault.value}): {self.command} {self.path}",
                  file=sys.stderr, flush=True)
        if fault is InjectedFault.DROP_CONNECTION:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault is InjectedFault.HTTP_500:
            self._send(500, [("Content-Type", "text/plain")], b"Injected fault (--fault-rate).")
            return True
        return False

    # -- WSMan --------------------------------------------------------------------------------

    def _wsman(self, method: str) -> None:
        """Authenticate first: the body of a request that is not authenticated is read only
        up to UNAUTHENTICATED_BODY (a larger one gets its 401 and the connection closes),
        so that the connection stays open for the next leg of an NTLM handshake."""
        if method != "POST":
            self._send(405, [("Allow", "POST")], b"")
            return
        result = self.auth.authenticate(self.headers.get("Authorization"))
        if result.context is None:
            if self._read_body(UNAUTHENTICATED_BODY, (401, result.headers)) is not None:
                self._send(401, result.headers, b"")
            return
        body = self._read_body()
        if body is None:
            return
        if not body:  # the empty request a client sends to set up message encryption
            self._send(200, result.headers, b"")
            return
        if self._inject_fault():
            return
        sealing = None
        if message_encryption.is_encrypted(self.headers.get("Content-Type", "")):
            sealing = self.auth.security
            if sealing is None:
                self._send(401, challenge(), b"")
                return
            try:
                body = message_encryption.unwrap(sealing, body)
            except message_encryption.EncryptionError as error:
                log.info("rejecting a request from %s: %s", self.address_string(), error)
                self._send(400, [], b"")
                return
        status, envelope = self._process(body, result.context)
        headers = list(result.headers)
        if sealing is not None:  # answer an encrypted request encrypted
            envelope = message_encryption.wrap(sealing, envelope)
            headers.append(("Content-Type", message_encryption.CONTENT_TYPE))
        else:
            headers.append(("Content-Type", SOAP_CONTENT_TYPE))
        self._send(status, headers, envelope)

    def _process(self, body: bytes, context: SessionContext) -> tuple[int, bytes]:
        message_id = ""
        try:
            request = soap.parse_request(body)
            message_id = request.message_id
            return 200, self.server.wsman.handle(request, context, self.client_address[0])
        except WSManFault as fault:
            return 500, soap.fault(fault, message_id, self.server.wsman.machine)
        except Exception as error:
            log.exception("WSMan request failed")
            internal = WSManFault(faults.INTERNAL_ERROR, f"The sandbox host failed: {error}")
            return 500, soap.fault(internal, message_id, self.server.wsman.machine)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.server.conditions.delay()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
