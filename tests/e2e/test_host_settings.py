"""Reaching a real management host: session configuration, auth methods and TLS settings.

Sources: PowerShell 7's Enable-PSRemoting registers the "PowerShell.7" endpoint
(https://learn.microsoft.com/powershell/scripting/security/remoting/wsman-remoting-in-powershell);
WinRM's Basic authentication sends the password base64-encoded, and only NTLM/Kerberos
(Negotiate) encrypt the messages of an http:// session
(https://learn.microsoft.com/windows/win32/winrm/authentication-for-remote-connections).
"""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from e2e_cli import Cli

from toolkit.core import config

LIST_SHARED = ("task", "run", "exchange/list-mailboxes", "--param",
               "RecipientTypeDetails=SharedMailbox")


def lab_copy(isolated_home: Path, name: str, **changes: Any) -> None:
    path = isolated_home / "config.toml"
    settings: dict[str, Any] = tomllib.loads(path.read_text())["profiles"]["lab"]
    settings.update(changes)
    config.write_profile(name, {k: v for k, v in settings.items() if v is not None}, path)


def test_the_session_configuration_is_the_profiles(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path) -> None:
    serve()
    lab_copy(isolated_home, "pwsh7", configuration_name="PowerShell.7")
    assert cli.json("--profile", "pwsh7", *LIST_SHARED)
    lab_copy(isolated_home, "jea", configuration_name="Contoso.Helpdesk")
    refused = cli("--profile", "jea", *LIST_SHARED, check=4)
    assert "Cannot find the Contoso.Helpdesk session configuration" in refused.stderr


def test_verify_tls_off_is_warned_on_every_run_and_applies_to_sign_in(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path) -> None:
    """Without a CA bundle the sandbox's certificate is untrusted; verify_tls = false must
    then reach msal too (it used to fail there with an internal SSLError)."""
    serve()
    lab_copy(isolated_home, "insecure", verify_tls=False, ca_bundle=None)
    for _ in range(2):
        run = cli("--profile", "insecure", *LIST_SHARED, check=0)
        assert "warning: profile insecure has verify_tls = false" in run.stderr
        assert "sales@contoso.com" in run.stdout
        assert "SSLError" not in run.stderr and "InsecureRequestWarning" not in run.stderr


def test_basic_over_plain_http_is_refused_before_connecting(cli: Cli) -> None:
    refused = cli(*LIST_SHARED, check=2, extra_env={
        "PSBRIDGE_ENDPOINT": "http://127.0.0.1:9/wsman", "PSBRIDGE_AUTH": "basic",
        "PSBRIDGE_USERNAME": "svc", "PSBRIDGE_PASSWORD": "Secret-Pw-1"})
    assert "basic over http:// sends the password in clear text" in refused.stderr
    assert "cannot reach" not in refused.stderr  # refused, not tried
    assert "Secret-Pw-1" not in refused.stderr


@pytest.mark.parametrize(("auth", "module"), [("kerberos", "gssapi"),
                                              ("credssp", "requests_credssp")])
def test_an_auth_method_without_its_extra_names_the_extra(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path, auth: str, module: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    serve()
    lab_copy(isolated_home, auth, auth=auth)
    refused = cli("--profile", auth, *LIST_SHARED, check=2)
    assert f"pip install 'psbridge[{auth}]'" in refused.stderr


def test_profile_test_reports_the_host_and_the_tenants(  # type: ignore[no-untyped-def]
        cli: Cli, serve) -> None:
    serve()
    report = {r["check"]: r for r in cli.json("--profile", "lab", "--tenant", "fabrikam.com",
                                              "profile", "test")}
    assert report["powershell"]["detail"] == "PowerShell 7.4.0 (Core)"
    assert report["language mode"]["detail"] == "FullLanguage"
    assert report["ExchangeOnlineManagement"]["result"] == "ok"
    assert report["Microsoft.Graph.Authentication"]["result"] == "ok"
    for service in ("exchange", "graph"):
        assert report[service]["result"] == "ok"
        assert "tenant fabrikam.com (7b2e9d4c-1a3f-4e8b-8d6c-5f0a2c9e3b72)" in (
            report[service]["detail"])


def test_profile_test_prints_the_fix_for_each_missing_module(  # type: ignore[no-untyped-def]
        cli: Cli, serve) -> None:
    """The Exchange module missing, the Graph one from before 2.0 (String -AccessToken)."""
    serve("--without-module", "ExchangeOnlineManagement",
          "--host-module", "Microsoft.Graph.Authentication=1.28.0")
    failed = cli("--profile", "lab", "profile", "test", check=4)
    out = " ".join(failed.stdout.split())  # the table may wrap a long cell
    assert ("Install-Module -Name ExchangeOnlineManagement -MinimumVersion 3.1.0 -Scope "
            "AllUsers -Force") in out
    assert "1.28.0 is older than 2.0.0" in out
    assert "Update-Module -Name Microsoft.Graph.Authentication" in out
    assert "a check failed" in failed.stderr
    report = {r["check"]: r["result"] for r in json.loads(cli(
        "--output", "json", "--profile", "lab", "profile", "test", check=4).stdout)}
    assert report["exchange"] == report["graph"] == "skipped"
    assert report["Microsoft.Graph.Users"] == "ok"


def test_profile_test_prints_the_fix_for_each_connect_failure(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path, tmp_path: Path) -> None:
    """A service that cannot be connected names the fix, not only the error.

    The sandbox refuses as Entra and Exchange do: a token for an app that is not consented
    in the tenant is AADSTS700016 "Application ... was not found in the directory"
    (https://learn.microsoft.com/entra/identity-platform/reference-error-codes), and
    app-only Exchange needs the app's Exchange.ManageAsApp permission (Step 2 of
    https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2)."""
    from toolkit.sandbox.tenant import demo

    seed = demo.demo_seed()
    seed["apps"][0]["roles"].remove("Exchange.ManageAsApp")
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    serve(seed=str(tmp_path / "seed.json"))
    report = {r["check"]: r for r in json.loads(cli(
        "--output", "json", "--profile", "lab", "profile", "test", check=4).stdout)}
    assert report["graph"]["result"] == "ok"
    assert report["exchange"]["result"] == "failed"
    assert "Exchange.ManageAsApp" in report["exchange"]["detail"]
    assert (f"fix: add the API permission Office 365 Exchange Online > Exchange.ManageAsApp "
            f"(application) to app {demo.DEMO_APP_ID}") in report["exchange"]["detail"]
    assert "Add-RoleGroupMember -Identity 'Recipient Management'" in report["exchange"][
        "detail"]

    lab_copy(isolated_home, "partner", tenants=[demo.FABRIKAM, demo.TAILSPIN])
    failed = cli("--profile", "partner", "--tenant", demo.TAILSPIN, "profile", "test",
                 check=4)
    out = " ".join(failed.stdout.split())  # the table may wrap a long cell
    assert "AADSTS700016" in out
    assert (f"fix: an administrator of {demo.TAILSPIN} grants the app tenant-wide admin "
            f"consent: open ") in out
    assert f"/{demo.TAILSPIN}/adminconsent?client_id={demo.DEMO_APP_ID}" in out.replace(" ", "")


def test_a_national_cloud_profile_uses_that_clouds_audiences(  # type: ignore[no-untyped-def]
        cli: Cli, serve, isolated_home: Path) -> None:
    """cloud = usgovhigh: tokens for outlook.office365.us and graph.microsoft.us, and the
    connect blocks name the GCC High environment (the sandbox checks they match)."""
    sandbox = serve()
    lab_copy(isolated_home, "gcchigh", cloud="usgovhigh")
    assert cli.json("--profile", "gcchigh", *LIST_SHARED)
    cli("--profile", "gcchigh", "profile", "test", check=0)
    (exchange, *_) = sandbox.commands("Connect-ExchangeOnline")
    assert exchange["ok"] and exchange["parameters"]["ExchangeEnvironmentName"] == (
        "O365USGovGCCHigh")
    graph = sandbox.commands("Connect-MgGraph")
    assert graph and all(c["ok"] and c["parameters"]["Environment"] == "USGov" for c in graph)
