"""The seed-shaped example the identity tests share (imported by module name: pytest puts
this folder on sys.path, as it has no __init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.sandbox.identity import (
    Account,
    AppCertificate,
    AppRegistration,
    IdentityPlatform,
    Tenant,
    TlsMaterial,
)

CONTOSO_ID = "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
FABRIKAM_ID = "0a1b2c3d-4e5f-4061-9273-8495a6b7c8d9"
PARTNER_ID = "f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f"
TAILSPIN_ID = "1d2c3b4a-5f6e-4a7b-8c9d-0e1f2a3b4c5d"
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
            {"name": "fabrikam.onmicrosoft.com", "id": FABRIKAM_ID, "domains": [],
             "partners": ["admin1"]},
            {"name": "tailspin.onmicrosoft.com", "id": TAILSPIN_ID, "domains": [],
             "partners": [{"account": "admin1", "role": "admin", "accepted": False}]},
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
