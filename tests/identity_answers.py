"""A stand-in for the identity platform's OpenID discovery, for resolver tests that need no
server: ``{authority}/{name}/v2.0/.well-known/openid-configuration`` answers with an issuer
``{authority}/{tenant id}/v2.0`` for each name of a tenant, and HTTP 400 with AADSTS90002
for any other (https://learn.microsoft.com/entra/identity-platform/reference-error-codes)."""

from __future__ import annotations

from typing import Any


class OpenIdConfigurations:
    """The identity platform's discovery answers: a tenant's names -> its id (AADSTS90002
    for any other name), counting the questions."""

    def __init__(self, names: dict[str, str]):
        self.names = names
        self.asked: list[str] = []

    def get(self, url: str, timeout: float) -> Any:
        name = url.split("/")[-4]
        self.asked.append(name)
        tenant_id = self.names.get(name.lower())
        if tenant_id is None:
            return _Answer(400, {"error_description": f"AADSTS90002: Tenant '{name}' not "
                                                      "found. Check the name."})
        return _Answer(200, {"issuer": f"https://login.example/{tenant_id}/v2.0"})


class _Answer:
    def __init__(self, status_code: int, body: dict[str, str]):
        self.status_code, self.body = status_code, body

    def json(self) -> dict[str, str]:
        return self.body
