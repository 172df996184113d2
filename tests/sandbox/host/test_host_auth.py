"""Authentication and transport security: Basic, NTLM/Negotiate with message encryption, HTTPS."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from host_testing import ADMIN, AGENT, StartSandbox, basic_wsman
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from toolkit.sandbox.host import message_encryption
from toolkit.sandbox.server import RunningSandbox


def context_of(wsman: WSMan) -> dict[str, object]:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Context")
        (context,) = ps.invoke()
    return dict(context.extended_properties)


def test_basic_auth_maps_the_account_and_its_role(sandbox: RunningSandbox) -> None:
    assert context_of(basic_wsman(sandbox, AGENT))["Role"] == "helpdesk"
    assert context_of(basic_wsman(sandbox, ADMIN))["Role"] == "admin"


@pytest.mark.parametrize("auth", ["basic", "ntlm", "negotiate"])
def test_wrong_credentials_are_an_authentication_error(sandbox: RunningSandbox, auth: str) -> None:
    wsman = WSMan("127.0.0.1", port=sandbox.port, ssl=False, auth=auth, username=ADMIN[0],
                  password="wrong", encryption="never" if auth == "basic" else "auto")
    with pytest.raises(AuthenticationError):
        RunspacePool(wsman).open()


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_ntlm_over_http_encrypts_every_message(
    sandbox: RunningSandbox, auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unwrapped: list[bytes] = []
    original = message_encryption.unwrap

    def spy(context: object, body: bytes) -> bytes:
        plain = original(context, body)
        unwrapped.append(plain)
        return plain

    monkeypatch.setattr(message_encryption, "unwrap", spy)
    wsman = WSMan("127.0.0.1", port=sandbox.port, ssl=False, auth=auth,
                  username=AGENT[0], password=AGENT[1])
    context = context_of(wsman)
    assert (context["Account"], context["Role"]) == ("agent1", "helpdesk")
    assert unwrapped and all(b"<s:Envelope" in body for body in unwrapped)


def test_plain_soap_without_authentication_is_refused(sandbox: RunningSandbox) -> None:
    response = requests.post(sandbox.url, data=b"<s:Envelope/>",
                             headers={"Content-Type": "application/soap+xml"}, timeout=5)
    assert response.status_code == 401
    assert "Negotiate" in response.headers["WWW-Authenticate"]
    assert "Basic" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("auth", ["basic", "ntlm", "negotiate"])
def test_https_with_the_sandbox_ca(start: StartSandbox, tls_dir: Path, auth: str) -> None:
    sandbox = start(https=True, tls_dir=tls_dir)
    assert sandbox.url.startswith("https://127.0.0.1:")
    assert sandbox.ca_cert is not None and sandbox.ca_cert.exists()
    wsman = WSMan("127.0.0.1", port=sandbox.port, ssl=True, auth=auth, username=ADMIN[0],
                  password=ADMIN[1], cert_validation=str(sandbox.ca_cert))
    assert context_of(wsman)["Account"] == "admin"


def test_https_is_refused_without_trusting_the_ca(start: StartSandbox, tls_dir: Path) -> None:
    sandbox = start(https=True, tls_dir=tls_dir)
    wsman = WSMan("127.0.0.1", port=sandbox.port, ssl=True, auth="basic", username=ADMIN[0],
                  password=ADMIN[1])
    with pytest.raises(requests.exceptions.SSLError):
        RunspacePool(wsman).open()


def test_shells_belong_to_the_account_that_opened_them(sandbox: RunningSandbox) -> None:
    admin = basic_wsman(sandbox, ADMIN)
    agent = basic_wsman(sandbox, AGENT)
    with RunspacePool(admin) as pool:
        assert [p.id for p in RunspacePool.get_runspace_pools(admin)] == [pool.id]
        assert RunspacePool.get_runspace_pools(agent) == []
        intruder = RunspacePool(agent)
        intruder.shell.id = pool.id
        intruder.shell._selector_set = pool.shell._selector_set
        with pytest.raises(WSManFaultError) as caught:
            intruder.shell._get_shell()
        assert "belongs to another account" in str(caught.value)


def test_encryption_content_type_is_recognised() -> None:
    assert message_encryption.is_encrypted(message_encryption.CONTENT_TYPE)
    assert not message_encryption.is_encrypted("application/soap+xml;charset=UTF-8")


TRANSPORTS = {
    "basic-http": dict(ssl=False, auth="basic", encryption="never"),
    "ntlm-http-encrypted": dict(ssl=False, auth="ntlm"),
    "ntlm-https": dict(ssl=True, auth="ntlm"),
    "negotiate-https-encrypted": dict(ssl=True, auth="negotiate", encryption="always"),
}


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_every_stream_over_every_transport(
    start: StartSandbox, tls_dir: Path, transport: str
) -> None:
    settings = dict(TRANSPORTS[transport])
    sandbox = start(https=settings["ssl"], tls_dir=tls_dir)
    if settings["ssl"]:
        settings["cert_validation"] = str(sandbox.ca_cert)
    wsman = WSMan("127.0.0.1", port=sandbox.port, username=ADMIN[0], password=ADMIN[1],
                  **settings)
    with RunspacePool(wsman, max_runspaces=2) as pool:
        objects = PowerShell(pool)
        objects.add_cmdlet("Get-Objects").add_parameter("Count", 2)
        streams = PowerShell(pool)
        streams.add_cmdlet("Write-Streams")
        failing = PowerShell(pool)
        failing.add_cmdlet("Fail-Pipeline")
        for ps in (objects, streams, failing):
            ps.begin_invoke()
        outputs = [ps.end_invoke() for ps in (objects, streams, failing)]

    assert [o.extended_properties["Name"] for o in outputs[0]] == ["item0", "item1"]
    assert outputs[1] == ["done"] and not streams.had_errors
    assert streams.streams.error[0].fq_error == "ManagementObjectNotFound,Get-Mailbox"
    assert streams.streams.warning[0].message == "Micro delay applied."
    assert streams.streams.verbose[0].message == "Looking up ghost@contoso.com"
    assert failing.had_errors and failing.streams.error[-1].fq_error == "ManagementObjectNotFound"
