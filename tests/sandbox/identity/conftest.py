"""A seed-shaped example directory and a tiny HTTPS server routing to IdentityPlatform.handle.

The sandbox host will mount the platform on its own server; these tests only need a
real TLS endpoint on loopback that the real msal (through requests) can talk to.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from toolkit.sandbox.identity import (
    Account,
    AppCertificate,
    AppRegistration,
    IdentityPlatform,
    Tenant,
    TlsMaterial,
    ensure_tls_material,
    make_app_certificate,
)

CONTOSO_ID = "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
FABRIKAM_ID = "0a1b2c3d-4e5f-4061-9273-8495a6b7c8d9"
PARTNER_ID = "f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f"
APP_ID = "3c9a1f7e-5d2b-4e8c-9a61-2b7f4e0d8c15"
APP_SECRET = "sandbox-app-secret-value"
AGENT_PASSWORD = "agent1-Passw0rd!"
ADMIN_PASSWORD = "admin1-Passw0rd!"


def seed_document(app_cert: AppCertificate) -> dict[str, Any]:
    """The identity-relevant part of a sandbox seed (issue 3's format)."""
    return {
        "accounts": [
            {"username": "agent1", "password": AGENT_PASSWORD, "role": "helpdesk"},
            {"username": "admin1", "password": ADMIN_PASSWORD, "role": "admin",
             "home_tenant": "partner.onmicrosoft.com"},
        ],
        "tenants": [
            {"name": "contoso.onmicrosoft.com", "id": CONTOSO_ID,
             "domains": [{"name": "contoso.com", "verified": True},
                         {"name": "contoso.net", "verified": False}]},
            {"name": "fabrikam.onmicrosoft.com", "id": FABRIKAM_ID, "domains": []},
            {"name": "partner.onmicrosoft.com", "id": PARTNER_ID, "domains": []},
        ],
        "apps": [
            {"client_id": APP_ID, "client_secret": APP_SECRET,
             "certificate_pem": app_cert.certificate_pem,
             "tenants": ["contoso.onmicrosoft.com", PARTNER_ID],
             "roles": ["Exchange.ManageAsApp", "User.ReadWrite.All"]},
        ],
    }


def build_platform(seed: dict[str, Any], state_dir: Path, **options: Any) -> IdentityPlatform:
    return IdentityPlatform(
        [Tenant.from_seed(t) for t in seed["tenants"]],
        [AppRegistration.from_seed(a) for a in seed["apps"]],
        [Account.from_seed(a) for a in seed["accounts"]],
        state_dir=state_dir,
        **options,
    )


@dataclass(frozen=True)
class Sandbox:
    url: str
    tls: TlsMaterial
    platform: IdentityPlatform
    app_cert: AppCertificate


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
