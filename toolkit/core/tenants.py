"""Tenant names: whatever a user types for ``--tenant``, resolved to the tenant's id.

A tenant is named by its ``.onmicrosoft.com`` name, its id (a GUID) or any verified
domain. The identity platform's OpenID configuration for that name
(``{authority}/{name}/v2.0/.well-known/openid-configuration``) answers with an issuer
``{authority}/{tenant id}/v2.0`` for every one of them, and with AADSTS90002 for a name
that is no tenant. Answers are cached under the data folder: a tenant's id never changes.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from toolkit.core import paths
from toolkit.core.auth import SIGN_IN_ATTEMPTS, sign_in_pause
from toolkit.core.errors import ConnectionFailed, InputError

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
CACHE_FILE = "tenant-ids.json"


class UnknownTenant(InputError):
    """``--tenant`` (or a profile's tenant) names no tenant: bad input, exit 2."""


@dataclass(frozen=True)
class TenantRef:
    """A tenant as the user named it, and its id."""

    name: str
    id: str

    @property
    def organization(self) -> str:
        """What ``Connect-ExchangeOnline -Organization`` takes: the ``.onmicrosoft.com``
        name, or else the tenant id (a verified domain is not accepted there)."""
        return self.name if self.name.lower().endswith(".onmicrosoft.com") else self.id

    def __str__(self) -> str:
        return self.name if self.name.lower() == self.id else f"{self.name} ({self.id})"


class TenantResolver:
    """Resolves tenant names through one authority, with an on-disk cache."""

    def __init__(self, authority: str, http: Any, *, persist: bool = True):
        """``persist=False`` keeps answers in memory only (the embedded sandbox's
        authority changes port on every run)."""
        self.authority = authority.rstrip("/")
        self._http = http
        self._cache_path = paths.data_dir() / CACHE_FILE if persist else None
        self._memory: dict[str, str] = {}

    def resolve(self, name: str) -> TenantRef:
        key = f"{self.authority}|{name.strip().lower()}"
        cache = self._read_cache()
        if key in cache:
            return TenantRef(name.strip(), cache[key])
        tenant_id = self._discover(name.strip())
        cache[key] = tenant_id
        self._write_cache(cache)
        return TenantRef(name.strip(), tenant_id)

    def _discover(self, name: str) -> str:
        if not name or "/" in name or any(c.isspace() for c in name):
            raise UnknownTenant(f"tenant {name!r} is not a tenant name, id or domain")
        url = f"{self.authority}/{name}/v2.0/.well-known/openid-configuration"
        answer = self._answer(url, name)
        if answer.status_code in (400, 404):
            raise UnknownTenant(
                f"tenant {name!r} does not exist at {self.authority} "
                f"({_aadsts(answer) or f'HTTP {answer.status_code}'})",
                hint="Check --tenant: a .onmicrosoft.com name, a tenant id or a verified "
                     "domain of the tenant.",
            )
        if answer.status_code != 200:
            raise ConnectionFailed(f"the identity platform {self.authority} answered HTTP "
                                   f"{answer.status_code} for tenant {name!r}")
        issuer = str(answer.json().get("issuer", ""))
        segments = [s for s in issuer.split("/") if s]
        tenant_id = segments[-2] if len(segments) >= 2 else ""
        if not _GUID.match(tenant_id):
            raise ConnectionFailed(f"the identity platform {self.authority} gave no tenant id "
                                   f"for {name!r} (issuer {issuer!r})")
        return tenant_id.lower()

    def _answer(self, url: str, name: str) -> Any:
        """The platform's answer, its passing failures (HTTP 5xx or 429, a connection
        dropped or refused) tried again as often as a sign-in is."""
        import requests

        failure = ""
        for attempt in range(SIGN_IN_ATTEMPTS):
            if attempt:
                sign_in_pause(attempt)
            try:
                answer = self._http.get(url, timeout=30)
            except requests.exceptions.SSLError as exc:
                raise ConnectionFailed(
                    f"TLS verification of the identity platform {self.authority} failed: "
                    f"{exc}",
                    hint="Set ca_bundle in the profile to the CA that signed its certificate.",
                ) from None
            except requests.exceptions.RequestException as exc:
                failure = type(exc).__name__
                continue
            if answer.status_code < 500 and answer.status_code != 429:
                return answer
            failure = f"HTTP {answer.status_code}"
        raise ConnectionFailed(
            f"cannot look up tenant {name!r}: the identity platform {self.authority} kept "
            f"failing ({failure}) after {SIGN_IN_ATTEMPTS} tries",
            hint="Try again later; check the authority URL and the network to it.")

    def _read_cache(self) -> dict[str, str]:
        if self._cache_path is None:
            return self._memory
        try:
            data = json.loads(self._cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_cache(self, cache: dict[str, str]) -> None:
        if self._cache_path is None:
            return
        self._cache_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self._cache_path.with_name(f".{self._cache_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._cache_path)


def _aadsts(answer: Any) -> str | None:
    """``AADSTS90002: Tenant 'x' not found.`` from an Entra error body, first sentence."""
    try:
        description = str(answer.json().get("error_description", ""))
    except ValueError:
        return None
    first = description.splitlines()[0] if description else ""
    return first.split(". ")[0] if first else None
