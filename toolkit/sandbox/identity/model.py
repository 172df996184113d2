"""What the identity platform knows: tenants, app registrations and sandbox accounts.

Plain frozen dataclasses so the tenant seed loader can build them; each has a
``from_seed`` that reads the documented seed keys (issue 3) and nothing else. Secrets
(client secrets, passwords) are excluded from ``repr`` so they never reach a log line.
`Directory` indexes them for lookups by the names clients use.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.sandbox.identity.certs import certificate_thumbprint


@dataclass(frozen=True)
class Tenant:
    """A directory: its ``.onmicrosoft.com`` name, its id (a GUID) and other domains.

    ``partners`` are the sandbox accounts of partners (CSP/MSP) whose delegated admin
    relationship with this tenant is active: they may sign in here. A relationship the
    customer has not accepted yet is not listed.
    """

    name: str
    id: str
    domains: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()

    @classmethod
    def from_seed(cls, entry: Mapping[str, Any]) -> Tenant:
        """Build from a seed ``tenants[]`` entry; only verified domains resolve an authority,
        only accepted partner relationships let a partner sign in."""
        domains = tuple(
            d["name"] if isinstance(d, Mapping) else str(d)
            for d in entry.get("domains", ())
            if not isinstance(d, Mapping) or d.get("verified", True)
        )
        partners = tuple(
            str(p["account"]) if isinstance(p, Mapping) else str(p)
            for p in entry.get("partners", ())
            if not isinstance(p, Mapping) or p.get("accepted", True)
        )
        return cls(name=str(entry["name"]), id=str(entry["id"]).lower(), domains=domains,
                   partners=partners)

    def aliases(self) -> tuple[str, ...]:
        """Every string that names this tenant in an authority URL (compared lowercased)."""
        return tuple(a.lower() for a in (self.name, self.id, *self.domains))


@dataclass(frozen=True)
class AppRegistration:
    """An app registration consented in some tenants, with its application permissions.

    ``tenants`` holds tenant names or ids where the app has a service principal (admin
    consent); ``roles`` are the app roles granted there (for example
    ``Exchange.ManageAsApp``, ``User.ReadWrite.All``).
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    certificate_pem: str | None = None
    tenants: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    display_name: str = "psbridge sandbox app"

    @classmethod
    def from_seed(cls, entry: Mapping[str, Any]) -> AppRegistration:
        """Build from a seed ``apps[]`` entry."""
        return cls(
            client_id=str(entry["client_id"]).lower(),
            client_secret=entry.get("client_secret") or None,
            certificate_pem=entry.get("certificate_pem") or None,
            tenants=tuple(str(t) for t in entry.get("tenants", ())),
            roles=tuple(str(r) for r in entry.get("roles", ())),
            display_name=str(entry.get("display_name", "psbridge sandbox app")),
        )

    @property
    def certificate_thumbprint(self) -> str | None:
        """SHA-1 thumbprint of the registered certificate, as ``-CertificateThumbprint`` takes."""
        return certificate_thumbprint(self.certificate_pem) if self.certificate_pem else None


@dataclass(frozen=True)
class Account:
    """A sandbox sign-in account (username, password, RBAC role: admin or helpdesk).

    ``home_tenant`` (name or id) is the tenant a device-code sign-in through the
    ``organizations`` or ``common`` authority lands in; by default the first tenant. An
    account without one (the sandbox's command-line admin) may sign in to every tenant.
    """

    username: str
    password: str = field(repr=False)
    role: str = "admin"
    home_tenant: str | None = None

    @classmethod
    def from_seed(cls, entry: Mapping[str, Any]) -> Account:
        """Build from a seed ``accounts[]`` entry."""
        return cls(
            username=str(entry["username"]),
            password=str(entry["password"]),
            role=str(entry.get("role", "admin")),
            home_tenant=entry.get("home_tenant") or None,
        )


# Microsoft's own public clients, present in every tenant without consent, that psbridge
# may use for device-code sign-in: the ExchangeOnlineManagement module and Microsoft
# Graph PowerShell ("Microsoft Graph Command Line Tools").
FIRST_PARTY_PUBLIC_CLIENTS: Mapping[str, str] = {
    "fb78d390-0c51-40cd-8e17-fdbfab77341b": "Microsoft Exchange REST API Based Powershell",
    "14d82eec-204b-4c2f-b7e8-296a70dab67e": "Microsoft Graph Command Line Tools",
}


class Directory:
    """Lookups over the configured tenants, apps and accounts (case-insensitive)."""

    def __init__(
        self,
        tenants: Iterable[Tenant],
        apps: Iterable[AppRegistration],
        accounts: Iterable[Account],
    ) -> None:
        self.tenants = tuple(tenants)
        self.apps = {a.client_id.lower(): a for a in apps}
        self.accounts = {a.username.lower(): a for a in accounts}
        self._tenants_by_alias = {alias: t for t in self.tenants for alias in t.aliases()}

    def tenant(self, name_or_id: str) -> Tenant | None:
        """The tenant an authority segment (name, domain or id) names."""
        return self._tenants_by_alias.get(name_or_id.lower())

    def app(self, client_id: str) -> AppRegistration | None:
        return self.apps.get(client_id.lower())

    def account(self, username: str) -> Account | None:
        return self.accounts.get(username.lower())

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account if *password* is its password (constant-time compare), else None."""
        account = self.account(username)
        if account is None:
            return None
        if not hmac.compare_digest(account.password.encode(), password.encode()):
            return None
        return account

    def home_tenant(self, account: Account) -> Tenant | None:
        """Where an ``organizations``/``common`` sign-in of *account* lands."""
        if account.home_tenant:
            return self.tenant(account.home_tenant)
        return self.tenants[0] if self.tenants else None

    def may_sign_in(self, account: Account, tenant: Tenant) -> bool:
        """A member of *tenant*, or a partner with an active relationship with it."""
        if account.home_tenant is None:
            return True
        home = self.tenant(account.home_tenant)
        return home == tenant or account.username.lower() in {
            p.lower() for p in tenant.partners}

    def is_consented(self, app: AppRegistration, tenant: Tenant) -> bool:
        """Whether *app* has a service principal (admin consent) in *tenant*."""
        return any(self.tenant(t) == tenant for t in app.tenants)
