"""Partner (CSP/MSP) work in customer tenants: the right tenant or nothing.

Evidence for what the sandbox does here (kept with the tests that hold it to it):

- A delegated admin's token for a customer comes from the customer tenant's authority;
  ``Connect-ExchangeOnline -AccessToken`` with ``-DelegatedOrganization`` and a token of
  the partner's own tenant "does not connect to the delegated organization. Instead, it
  connects to the partner tenant", while Get-ConnectionInformation names the delegated
  one: https://github.com/MicrosoftDocs/office-docs-powershell/issues/10378
- ``-Organization`` takes the ``.onmicrosoft.com`` name or, since 2025, the tenant id:
  https://github.com/MicrosoftDocs/office-docs-powershell/pull/12504
- A user who is neither a member of a tenant nor reaches it through an active GDAP
  relationship is refused with AADSTS50020 ("User account ... does not exist in tenant
  ... The account needs to be added as an external user in the tenant first"):
  https://learn.microsoft.com/entra/identity-platform/reference-error-codes . A GDAP
  request the customer has not approved grants nothing (GDAP FAQ,
  https://learn.microsoft.com/partner-center/gdap-faq); Entra has no separate error code
  for "pending", so the sandbox answers AADSTS50020 there too (an assumption).
- ``Get-MgContext`` reports the Graph session's TenantId (Microsoft Learn,
  https://learn.microsoft.com/powershell/module/microsoft.graph.authentication/get-mgcontext);
  ``Connect-MgGraph`` without a token signs in interactively, to the account's home tenant
  unless ``-TenantId`` names another (same module's Connect-MgGraph page).
- Tenant discovery: ``{authority}/{tenant}/v2.0/.well-known/openid-configuration``
  answers for a tenant's name, id or verified domain with an issuer holding the tenant
  id, and AADSTS90002 for an unknown tenant (same error code reference).
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import requests
from e2e_cli import TEMPLATES, Cli, delegated_copy, start_device_code_sign_in

from toolkit.core import config
from toolkit.sandbox.tenant import demo

FABRIKAM_ID = demo.FABRIKAM_ID
CHANGES = ("Add-MailboxPermission", "Add-RecipientPermission", "Set-Mailbox")


def _lab(isolated_home: Path) -> dict[str, Any]:
    settings: dict[str, Any] = tomllib.loads(
        (isolated_home / "config.toml").read_text())["profiles"]["lab"]
    return settings


def approve_as(isolated_home: Path, code: str, account: tuple[str, str]) -> requests.Response:
    """Sign in at the sandbox's device login as ``account`` (the partner's own user)."""
    lab = _lab(isolated_home)
    session = requests.Session()
    session.trust_env = False
    session.verify = lab["ca_bundle"]
    base = lab["endpoint"].removesuffix("/wsman")
    return session.post(f"{base}/_sandbox/devicecode/approve", json={"user_code": code},
                        auth=account, timeout=30)


def run_with_device_code(cli: Cli, isolated_home: Path, args: tuple[str, ...],
                         account: tuple[str, str]) -> tuple[int, str, requests.Response]:
    """Run a delegated command, approve its code as ``account``; exit code and output."""
    sign_in = start_device_code_sign_in(cli, *args)
    approval = approve_as(isolated_home, sign_in.code, account)
    exit_code, output = sign_in.finish()
    return exit_code, output, approval


def test_a_partner_agent_acts_on_the_customer_tenant(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path) -> None:
    """A delegated profile with --tenant signs in at the customer's authority: the token
    is the customer's, Exchange connects with -Organization set to it, and the mailboxes
    listed are the customer's, not the partner's."""
    sandbox = serve()
    delegated_copy(isolated_home / "config.toml", "lab", "agent")
    exit_code, output, approval = run_with_device_code(
        cli, isolated_home,
        ("--profile", "agent", "--tenant", "fabrikam.com", "task", "run",
         "exchange/list-mailboxes", "--param", "RecipientTypeDetails=SharedMailbox"),
        demo.ADMIN_ACCOUNT)
    assert approval.status_code == 200, approval.text
    assert exit_code == 0, output
    assert "office@fabrikam.com" in output and "contoso.com" not in output
    (connect,) = sandbox.commands("Connect-ExchangeOnline")
    assert connect["parameters"]["Organization"] == FABRIKAM_ID  # a domain: the tenant id
    assert "DelegatedOrganization" not in connect["parameters"]
    listed = sandbox.commands("Get-Mailbox")
    assert listed and {c["tenant"] for c in listed} == {demo.FABRIKAM}
    # Tokens are cached per tenant: the customer again, then the partner's own tenant
    # (through the same sign-in's refresh token), without a new device code.
    for tenant, domain in ((demo.FABRIKAM, "fabrikam.com"), (demo.CONTOSO, "contoso.com")):
        again = cli("--profile", "agent", "--tenant", tenant, "task", "run",
                    "exchange/list-mailboxes", "--param", "RecipientTypeDetails=SharedMailbox",
                    check=0)
        assert "sandbox approve" not in again.stderr
        assert domain in again.stdout


def test_a_customer_that_has_not_accepted_gives_no_token(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path) -> None:
    sandbox = serve()
    delegated_copy(isolated_home / "config.toml", "lab", "agent")
    agent = tomllib.loads((isolated_home / "config.toml").read_text())["profiles"]["agent"]
    config.write_profile("agent", {**agent, "tenants": [demo.FABRIKAM, demo.TAILSPIN]},
                         isolated_home / "config.toml")
    exit_code, output, approval = run_with_device_code(
        cli, isolated_home,
        ("--profile", "agent", "--tenant", demo.TAILSPIN, "task", "run",
         "exchange/list-mailboxes"),
        demo.ADMIN_ACCOUNT)
    assert approval.status_code == 403 and "AADSTS50020" in approval.text
    assert exit_code == 4, output
    assert "AADSTS50020" in output and demo.TAILSPIN in output
    assert sandbox.commands("Connect-ExchangeOnline") == []
    assert sandbox.commands("Get-Mailbox") == []


_TOKEN = "  AccessToken: {type: secret, required: true, source: token, description: unused}\n"
# Per service: a connect block that ignores the token and signs in as whoever the host
# signed in last (its script, and the parameters the product passes every connect block).
_WRONG_CONNECTS = {
    "exchange": (
        "param([string]$AccessToken, [string]$Organization, [switch]$Renew)\n"
        "Connect-ExchangeOnline -ShowBanner:$false -ErrorAction Stop\n",
        _TOKEN
        + "  Organization: {type: string, required: true, source: tenant, description: unused}\n"
        "  Renew: {type: switch, required: false, source: renew, description: unused}\n"),
    "graph": ("param([string]$AccessToken)\nConnect-MgGraph -NoWelcome -ErrorAction Stop\n",
              _TOKEN),
}


def _wrong_connect_block(templates: Path, service: str) -> dict[str, str]:
    """A copy of the test templates whose connect block for ``service`` ignores the token
    and signs in as the host's own account (wrong on purpose), as PSBRIDGE_TEMPLATES."""
    script, params = _WRONG_CONNECTS[service]
    shutil.copytree(TEMPLATES, templates)
    (templates / "_connect").mkdir(exist_ok=True)
    (templates / "_connect" / f"connect-{service}.ps1.j2").write_text(
        "{#- psbridge\n"
        f"name: _connect/connect-{service}\n"
        "summary: Connect as whoever the host signed in last (wrong on purpose)\n"
        f"role: helpdesk\nmutates: false\nservices: []\nconnects: {service}\n"
        f"params:\n{params}"
        "-#}\n" + script)
    return {"PSBRIDGE_TEMPLATES": str(templates)}


def test_a_connection_that_lands_in_another_tenant_changes_nothing(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path, tmp_path: Path) -> None:
    """Forced mismatch: a connect block that ignores the token and signs in as the host's
    own account (as an interactive sign-in cached on the host would) lands in contoso
    while fabrikam was asked for. Nothing is sent, no job is created, exit 4."""
    sandbox = serve()
    env = _wrong_connect_block(tmp_path / "templates", "exchange")
    refused = cli("--profile", "lab", "--tenant", demo.FABRIKAM, "perms", "grant",
                  "office@fabrikam.com", "brian.johnson@fabrikam.com", "--right", "FullAccess",
                  check=4, extra_env=env)
    assert "reached tenant contoso.onmicrosoft.com" in refused.stderr
    assert "nothing was sent or changed" in refused.stderr
    assert [c for c in sandbox.commands() if c["cmdlet"] in CHANGES] == []
    assert [c for c in sandbox.commands() if c["tenant"] == demo.CONTOSO
            and c["cmdlet"] not in ("Connect-ExchangeOnline", "Get-ConnectionInformation",
                                    "Get-OrganizationConfig")] == []
    jobs = cli.json("--profile", "lab", "jobs", "list")
    assert jobs == []
    # The same grant with the product's own connect block goes to fabrikam.
    cli("--profile", "lab", "--tenant", demo.FABRIKAM, "perms", "grant",
        "office@fabrikam.com", "brian.johnson@fabrikam.com", "--right", "FullAccess", check=0)
    (added,) = sandbox.commands("Add-MailboxPermission")
    assert added["tenant"] == demo.FABRIKAM


def test_a_job_closes_every_shell_it_opened_ahead_refused_or_done(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path, tmp_path: Path) -> None:
    """A job of several chunks opens its other connections while the first one checks the
    tenant. Refused by that check (exit 4), and after it ran, every shell it opened on the
    host is closed: the shell ledger (one record per shell not confirmed closed) is empty,
    so no Exchange connection of the account is left held."""
    serve()
    source = tmp_path / "rows.csv"
    source.write_text("Mailbox,Value\n" + "".join(
        f"{m}@contoso.com,v{n}\n" for n, m in enumerate(("sales", "info", "support"))))
    job = ("--profile", "lab", "task", "run", "custom/set-attribute", "--csv", str(source),
           "--chunk-size", "1")
    ledger = isolated_home / "data" / "shells"
    env = _wrong_connect_block(tmp_path / "templates", "exchange")
    refused = cli("--tenant", demo.FABRIKAM, *job, check=4, extra_env=env)
    assert "nothing was sent or changed" in refused.stderr
    assert list(ledger.glob("*.json")) == []
    cli(*job, check=0)
    assert list(ledger.glob("*.json")) == []


def test_a_graph_connection_that_lands_in_another_tenant_changes_nothing(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path, tmp_path: Path) -> None:
    """Forced mismatch, Graph: a connect block that ignores the token and signs in
    interactively lands in contoso (the account's home) while fabrikam was asked for.
    Get-MgContext names contoso, so not a licence is removed in either tenant, exit 4."""
    sandbox = serve()
    env = _wrong_connect_block(tmp_path / "templates", "graph")
    remove = ("--profile", "lab", "--tenant", demo.FABRIKAM, "users", "license", "remove",
              "--sku", "EMS", "--where-license", "EMS")
    refused = cli(*remove, check=4, extra_env=env)
    assert f"the graph connection reached tenant {demo.CONTOSO_ID}" in refused.stderr
    assert f"not {demo.FABRIKAM} ({FABRIKAM_ID})" in refused.stderr
    assert "nothing was sent or changed" in refused.stderr
    assert [c["cmdlet"] for c in sandbox.commands()] == ["Connect-MgGraph", "Get-MgContext"]
    assert cli.json("--profile", "lab", "jobs", "list") == []
    # The same removal with the product's own connect block acts on fabrikam only.
    cli(*remove, check=0)
    removed = sandbox.commands("Set-MgUserLicense")
    assert len(removed) == 5 and {c["tenant"] for c in removed} == {demo.FABRIKAM}


def test_tenant_names_resolve_and_a_typo_is_bad_input(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path) -> None:
    """--tenant as the home tenant, a tenant id or a verified domain; a typo exits 2."""
    serve()
    for name in (demo.CONTOSO, demo.FABRIKAM, FABRIKAM_ID, "fabrikam.com"):
        listed = cli.json("--profile", "lab", "--tenant", name, "task", "run",
                          "exchange/list-mailboxes", "--param",
                          "RecipientTypeDetails=SharedMailbox")
        domain = "contoso.com" if name == demo.CONTOSO else "fabrikam.com"
        assert listed and all(m["PrimarySmtpAddress"].endswith(domain) for m in listed), name
    typo = cli("--profile", "lab", "--tenant", "fabrikma.com", "task", "run",
               "exchange/list-mailboxes", check=2)
    assert "tenant 'fabrikma.com' does not exist" in typo.stderr
    assert "internal error" not in typo.stderr
    outside = cli("--profile", "lab", "--tenant", demo.TAILSPIN, "task", "run",
                  "exchange/list-mailboxes", check=2)
    assert "is not one of profile lab's tenants" in outside.stderr
    lab = _lab(isolated_home)
    lab["exchange"]["organization"] = "contosso.onmicrosoft.com"
    config.write_profile("typo", lab, isolated_home / "config.toml")
    bad = cli("--profile", "typo", "task", "run", "exchange/list-mailboxes", check=2)
    assert "profile typo: tenant 'contosso.onmicrosoft.com' does not exist" in bad.stderr


def test_snapshots_are_found_by_every_name_of_the_tenant(cli: Cli) -> None:
    """A snapshot taken with --tenant as a verified domain is found with the
    .onmicrosoft.com name and the tenant id (all resolved to the id through the OpenID
    discovery), a second audit under another name compares with it, and the home tenant
    keeps its own snapshots."""
    cli("--tenant", "fabrikam.com", "perms", "audit", "--all", check=0)
    for name in (demo.FABRIKAM, FABRIKAM_ID, "FABRIKAM.COM"):
        found = cli.json("--tenant", name, "perms", "who-can-access", "office@fabrikam.com")
        assert {(r["trustee"], r["right"]) for r in found} == {
            ("ana.bowman@fabrikam.com", "FullAccess"),
            ("brian.johnson@fabrikam.com", "SendAs")}, name
    again = cli("--tenant", FABRIKAM_ID, "perms", "audit", "--all", check=0)
    assert "since snapshot 1: 0 added, 0 removed" in again.stderr
    diff = cli("--tenant", demo.FABRIKAM, "perms", "diff", check=0)
    assert "snapshot 1 -> 2: 0 added, 0 removed" in diff.stderr
    home = cli("perms", "who-can-access", "office@fabrikam.com", check=2)
    assert "no permission snapshot of contoso.onmicrosoft.com yet" in home.stderr
