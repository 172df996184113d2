"""What a management host needs for psbridge, and the fix for each thing it lacks.

Minimum versions, with their sources:

- ExchangeOnlineManagement 3.1.0: ``Connect-ExchangeOnline -AccessToken`` "is available in
  version 3.1.0 or later of the module" (Connect-ExchangeOnline reference,
  https://learn.microsoft.com/powershell/module/exchange/connect-exchangeonline).
- Microsoft.Graph.* 2.0.0: version 2 "changes -AccessToken type on Connect-MgGraph from
  String to SecureString", which psbridge's connect block passes (release notes,
  https://github.com/microsoftgraph/msgraph-sdk-powershell/releases/tag/2.0.0-preview1).
- Microsoft.Graph.Authentication 2.35.1 ignores ``-AccessToken`` and falls back to other
  credentials (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/3533).

The fix for a service that cannot be connected (:func:`connect_fix`), by failure:

- AADSTS700016 / AADSTS65001 (the app is not in the tenant's directory / not consented):
  tenant-wide admin consent, ``{authority}/{tenant}/adminconsent?client_id={app}``
  (https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent);
- AADSTS7000215 / AADSTS700027 (the secret / certificate is not the app's): a new secret or
  the certificate uploaded under the app registration's Certificates & secrets;
- AADSTS50020 (the user is not in the tenant: for a partner, no active GDAP relationship):
  the customer approves the relationship (https://learn.microsoft.com/partner-center/gdap-faq);
- an app without Exchange.ManageAsApp, or without an Exchange role: the API permission and
  a role for the app's service principal (Steps 2 and 5 of
  https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2);
- Exchange's limit of concurrent connections: close the account's other sessions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

EXCHANGE_MINIMUM = "3.1.0"
GRAPH_MINIMUM = "2.0.0"
MODULES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "exchange": (("ExchangeOnlineManagement", EXCHANGE_MINIMUM),),
    "graph": (
        ("Microsoft.Graph.Authentication", GRAPH_MINIMUM),
        ("Microsoft.Graph.Users", GRAPH_MINIMUM),
        ("Microsoft.Graph.Users.Actions", GRAPH_MINIMUM),
        ("Microsoft.Graph.Identity.DirectoryManagement", GRAPH_MINIMUM),
    ),
}
BROKEN_VERSIONS: Mapping[tuple[str, str], str] = {
    ("Microsoft.Graph.Authentication", "2.35.1"): "ignores -AccessToken (msgraph-sdk-"
                                                  "powershell issue 3533)",
}


@dataclass(frozen=True)
class HostCheck:
    check: str
    ok: bool
    detail: str
    fix: str | None = None  # the PowerShell line to run on the host

    def row(self) -> dict[str, str]:
        detail = self.detail if self.fix is None else f"{self.detail}; fix on the host: {self.fix}"
        return {"check": self.check, "result": "ok" if self.ok else "failed", "detail": detail}


def needed_modules(services: Iterable[str]) -> list[str]:
    return [name for service in services for name, _ in MODULES.get(service, ())]


def check_host(inventory: Mapping[str, Any], services: Iterable[str]) -> list[HostCheck]:
    """The host's PowerShell and modules against what ``services`` need."""
    version = str(inventory.get("PSVersion") or "")
    edition = str(inventory.get("PSEdition") or "Desktop")
    language = str(inventory.get("LanguageMode") or "")
    checks = [HostCheck("powershell", _version(version) >= (5, 1),
                        f"PowerShell {version} ({edition})",
                        None if _version(version) >= (5, 1) else
                        "winget install --id Microsoft.PowerShell  # PowerShell 7")]
    full = language == "FullLanguage"
    checks.append(HostCheck(
        "language mode", full, language or "unknown",
        None if full else "Register-PSSessionConfiguration -Name PowerShell.7 (or use an "
        "endpoint whose LanguageMode is FullLanguage); psbridge's scripts need it"))
    installed: dict[str, str] = {}
    for module in inventory.get("Modules") or []:
        if isinstance(module, Mapping):
            name, found = str(module.get("Name")), str(module.get("Version"))
            if _version(found) > _version(installed.get(name, "0")):
                installed[name] = found
    for service in services:
        for name, minimum in MODULES.get(service, ()):
            checks.append(_module_check(name, minimum, installed.get(name)))
    return checks


def _module_check(name: str, minimum: str, found: str | None) -> HostCheck:
    if found is None:
        return HostCheck(name, False, "not installed",
                         f"Install-Module -Name {name} -MinimumVersion {minimum} "
                         "-Scope AllUsers -Force")
    if _version(found) < _version(minimum):
        return HostCheck(name, False, f"{found} is older than {minimum}",
                         f"Update-Module -Name {name}")
    broken = BROKEN_VERSIONS.get((name, found))
    if broken:
        return HostCheck(name, False, f"{found} {broken}", f"Update-Module -Name {name}")
    return HostCheck(name, True, found)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("-")[0].split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


# (what the failure says, the fix): the first match wins; {tenant}, {app} and {authority}
# are the profile's. Sources in the module's docstring.
_CONSENT = ("an administrator of {tenant} grants the app tenant-wide admin consent: open "
            "{authority}/{tenant}/adminconsent?client_id={app} (or Entra admin center > "
            "Enterprise applications > the app > Permissions > Grant admin consent)")
CONNECT_FIXES: tuple[tuple[str, str], ...] = (
    ("AADSTS700016", _CONSENT),
    ("AADSTS65001", _CONSENT),
    ("AADSTS7000215", "add a new client secret to app {app} (Entra admin center > App "
                      "registrations > Certificates & secrets) and write it to the "
                      "profile's client_secret_file"),
    ("AADSTS700027", "upload the profile's certificate to app {app} (Entra admin center > "
                     "App registrations > Certificates & secrets)"),
    ("AADSTS50020", "the account has no access to {tenant}: an admin of {tenant} approves "
                    "the partner's GDAP relationship (Microsoft 365 admin center > "
                    "Settings > Partner relationships), or --tenant names another tenant"),
    ("Exchange.ManageAsApp", "add the API permission Office 365 Exchange Online > "
                             "Exchange.ManageAsApp (application) to app {app} and grant admin "
                             "consent in {tenant}; then, in an Exchange Online session of "
                             "{tenant}: New-ServicePrincipal -AppId {app} -ObjectId <the "
                             "enterprise application's object id> -DisplayName psbridge; "
                             "Add-RoleGroupMember -Identity 'Recipient Management' -Member "
                             "{app}"),
    ("maximum number of connections", "close this account's other Exchange Online sessions "
                                      "(Disconnect-ExchangeOnline -Confirm:$false in each) "
                                      "or wait for them to time out"),
)


def connect_fix(message: str, *, tenant: str, app: str | None, authority: str) -> str | None:
    """The fix for a failed sign-in or connect, when its message says which failure it is."""
    for marker, fix in CONNECT_FIXES:
        if marker.casefold() in message.casefold():
            return fix.format(tenant=tenant, app=app or "<app id>",
                              authority=authority.rstrip("/"))
    return None
