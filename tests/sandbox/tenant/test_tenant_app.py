"""The backend the sandbox serves, driven by the real pypsrp client over WSMan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from toolkit.sandbox.app import build_backend
from toolkit.sandbox.server import RunningSandbox, SandboxOptions, start_sandbox
from toolkit.sandbox.tenant.demo import HELPDESK_ACCOUNT


def _wsman(sandbox: RunningSandbox, username: str | None = None,
           password: str | None = None) -> WSMan:
    return WSMan("127.0.0.1", port=sandbox.port, ssl=False, auth="basic", encryption="never",
                 username=username or sandbox.username, password=password or sandbox.password)


def _invoke(pool: RunspacePool, script: str, **parameters: Any) -> PowerShell:
    shell = PowerShell(pool)
    shell.add_script(script)
    for name, value in parameters.items():
        shell.add_parameter(name, value)
    shell.invoke()
    return shell


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    options = SandboxOptions(password="Cli-Admin-1!", seed="demo", mailbox_delay_s=0,
                             state=tmp_path / "state.json")
    with start_sandbox(options) as running:
        yield running


def test_hand_typed_session(sandbox: RunningSandbox) -> None:
    with RunspacePool(_wsman(sandbox)) as pool:
        _invoke(pool, "Connect-ExchangeOnline -ShowBanner:$false")
        shell = PowerShell(pool)
        shell.add_cmdlet("Get-Mailbox").add_parameter("RecipientTypeDetails", "SharedMailbox")
        shared = shell.invoke()
        assert [m.adapted_properties.get("Name") or m.extended_properties.get("Name")
                for m in shared] == ["Sales", "Support", "Info", "Finance"]
        shell = PowerShell(pool)
        shell.add_cmdlet("Add-MailboxPermission").add_parameter("Identity", "sales") \
            .add_parameter("User", "adele.vance@contoso.com").add_parameter("AccessRights",
                                                                           "FullAccess")
        shell.invoke()
        assert not shell.had_errors  # a non-terminating error...
        # ...shows in the error stream, shaped as ExchangeOnlineManagement 3.x shapes it
        assert [str(e).split("|", 2)[1:] for e in shell.streams.error] == [
            ["Microsoft.Exchange.Configuration.Tasks.ManagementObjectAlreadyExistsException",
             "An existing permission entry was found for user: adele.vance@contoso.com."]]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    options = SandboxOptions(password="Cli-Admin-1!", seed="demo", state=tmp_path / "s.json")
    with start_sandbox(options) as running, RunspacePool(_wsman(running)) as pool:
        shell = _invoke(pool, "Connect-ExchangeOnline -ShowBanner:$false; Add-MailboxPermission "
                              "-Identity info -User lee.gu@contoso.com -AccessRights FullAccess")
        assert not shell.streams.error
    with start_sandbox(options) as running, RunspacePool(_wsman(running)) as pool:
        shell = _invoke(pool, "Connect-ExchangeOnline -ShowBanner:$false; "
                              "Get-MailboxPermission info -User lee.gu@contoso.com | "
                              "ForEach-Object { $_.AccessRights }")
        assert shell.output == ["FullAccess"]


def test_closing_a_pool_frees_its_connection(sandbox: RunningSandbox) -> None:
    pools = [RunspacePool(_wsman(sandbox)) for _ in range(3)]
    for pool in pools:
        pool.open()
        assert not _invoke(pool, "Connect-ExchangeOnline -ShowBanner:$false").streams.error
    with RunspacePool(_wsman(sandbox)) as fourth:
        refused = _invoke(fourth, "Connect-ExchangeOnline -ShowBanner:$false")
        assert "maximum number of connections allowed : 3" in " ".join(
            str(e) for e in refused.streams.error)
        pools[0].close()
        accepted = _invoke(fourth, "Connect-ExchangeOnline -ShowBanner:$false")
        assert not accepted.streams.error and not accepted.had_errors
    for pool in pools[1:]:
        pool.close()


def test_helpdesk_account_from_the_seed(sandbox: RunningSandbox) -> None:
    with RunspacePool(_wsman(sandbox, *HELPDESK_ACCOUNT)) as pool:
        shell = _invoke(pool, "Connect-ExchangeOnline -ShowBanner:$false; "
                              "Remove-MailboxPermission -Identity sales -User "
                              "adele.vance@contoso.com -AccessRights FullAccess -Confirm:$false")
        assert "The term 'Remove-MailboxPermission' is not recognized" in " ".join(
            str(e) for e in shell.streams.error)


def test_backend_authenticates_seed_and_cli_accounts() -> None:
    backend = build_backend(SandboxOptions(username="ops", password="Ops-Pass-1!"))
    assert backend.authenticate("ops", "Ops-Pass-1!") is not None
    assert backend.authenticate("helpdesk", HELPDESK_ACCOUNT[1]).role == "helpdesk"  # type: ignore[union-attr]
    assert backend.authenticate("helpdesk", "wrong") is None
    assert backend.account_password("nobody") is None
    assert backend.identity_handler is None  # identity platform only with --https


def test_https_backend_verifies_its_own_tokens(tmp_path: Path) -> None:
    from toolkit.sandbox.identity import EXCHANGE_ONLINE
    from toolkit.sandbox.interface import SessionContext
    from toolkit.sandbox.pwsh.engine import run_script
    from toolkit.sandbox.tenant.demo import CONTOSO_ID, DEMO_APP_ID

    backend = build_backend(SandboxOptions(https=True, tls_dir=tmp_path, password="P-1234!x"))
    assert backend.identity_handler is not None
    identity = backend.services.identity
    token = identity.tokens.issue_app_token(
        tenant_id=CONTOSO_ID, resource=EXCHANGE_ONLINE, client_id=DEMO_APP_ID,
        app_display_name="psbridge automation", roles=["Exchange.ManageAsApp"],
        client_auth="1")
    runspace = backend.open_runspace(SessionContext("sandbox-admin", "admin"))
    result = run_script(runspace.inner, "param($t) Connect-ExchangeOnline -AccessToken $t "
                                        "-Organization contoso.onmicrosoft.com "
                                        "-ShowBanner:$false; (Get-Mailbox info).Name",
                        {"t": token})
    assert result.output == ["Info"] and not result.errors
    runspace.close()
    assert backend.services.limiter.count(DEMO_APP_ID) == 0


def test_bad_seed_or_state_stops_the_start_cleanly(tmp_path: Path) -> None:
    from toolkit.sandbox.server import SandboxUnavailable

    seed = tmp_path / "seed.json"
    seed.write_text('{"tenants": [{"name": "x.onmicrosoft.com", "users": [{"upn": 3}]}]}')
    with pytest.raises(SandboxUnavailable, match=r"tenants\[0\]\.users\[0\]\.upn"):
        build_backend(SandboxOptions(seed=str(seed), password="P-1234!x"))
    state = tmp_path / "state.json"
    state.write_text("[]")
    with pytest.raises(SandboxUnavailable, match="not a psbridge sandbox state file"):
        build_backend(SandboxOptions(state=state, password="P-1234!x"))


def test_large_benchmark_seed() -> None:
    from toolkit.sandbox.app import load_world
    from toolkit.sandbox.server import SandboxUnavailable

    world = load_world("large:300:900")
    (tenant,) = world.tenants.values()
    assert len(tenant.mailboxes) == 300
    with pytest.raises(SandboxUnavailable, match="large:MAILBOXES"):
        build_backend(SandboxOptions(seed="large:many", password="P-1234!x"))


def test_knobs_reach_the_tenant(tmp_path: Path) -> None:
    backend = build_backend(SandboxOptions(
        password="P-1234!x", mailbox_delay_s=0, migration_speed=50, cmdlet_ms=7,
        throttle_rate=0.25, random_seed=3, command_log=tmp_path / "log.jsonl"))
    settings = backend.store.settings
    assert (settings.mailbox_delay_s, settings.migration_speed) == (0, 50)
    services = backend.services
    assert (services.cmdlet_ms, services.throttle_rate, services.random_seed) == (7, 0.25, 3)
    assert services.command_log == tmp_path / "log.jsonl"
