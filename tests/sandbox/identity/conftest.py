"""A seed-shaped example directory and a tiny HTTPS server routing to IdentityPlatform.handle.

The sandbox host will mount the platform on its own server; these tests only need a
real TLS endpoint on loopback that the real msal (through requests) can talk to.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from identity_seed import Sandbox, build_platform, seed_document

from toolkit.sandbox.identity import (
    AppCertificate,
    IdentityPlatform,
    ensure_tls_material,
    make_app_certificate,
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    platform: IdentityPlatform

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        status, headers, payload = self.platform.handle(
            self.command, path, query, dict(self.headers.items()), body
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def app_cert() -> AppCertificate:
    return make_app_certificate("psbridge test app")


@pytest.fixture(scope="session")
def seed(app_cert: AppCertificate) -> dict[str, Any]:
    return seed_document(app_cert)


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("identity-state")


@pytest.fixture(scope="module")
def sandbox(seed: dict[str, Any], state_dir: Path, app_cert: AppCertificate) -> Iterator[Sandbox]:
    tls = ensure_tls_material(state_dir)
    platform = build_platform(seed, state_dir, device_code_interval=1)
    handler = type("Handler", (_Handler,), {"platform": platform})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Sandbox(f"https://127.0.0.1:{server.server_address[1]}", tls, platform, app_cert)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
