"""The sandbox's IMAP listeners: psbridge's own IMAP sign-in (core/imap_probe) over SSL,
STARTTLS and plain against the seeded source accounts (issue 15, item 9).

Evidence for what the listeners say:
- STARTTLS, and LOGINDISABLED until it (a server "MUST NOT" accept LOGIN on a connection
  it only accepts after TLS): RFC 3501 sections 6.2.1 and 6.2.3,
  https://www.rfc-editor.org/rfc/rfc3501 ; PRIVACYREQUIRED and AUTHENTICATIONFAILED
  response codes: RFC 5530, https://www.rfc-editor.org/rfc/rfc5530
- Gmail's answer to a wrong password, "[AUTHENTICATIONFAILED] Invalid credentials
  (Failure)", as clients log it: https://github.com/andreiaugustin/gmail_extractor/issues/4,
  https://github.com/pulb/mailnag/issues/190, https://github.com/smiley22/S22.Imap/issues/168
- The INBOX size as "* N EXISTS" after SELECT: RFC 3501 section 6.3.1.
Assumed: one listener per security serves every seeded source (a real source is one host).
"""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.core.imap_probe import ImapLoginFailed, imap_login
from toolkit.sandbox.identity.certs import ensure_tls_material
from toolkit.sandbox.imap_listener import (
    ImapListeners,
    seeded_accounts,
    start_imap_listeners,
)
from toolkit.sandbox.server import tls_context
from toolkit.sandbox.tenant import demo
from toolkit.sandbox.tenant.store import TenantStore

USER, PASSWORD = "adele.vance.contoso@gmail.com", "adele-app-pw-2024"


@pytest.fixture
def listeners(tmp_path: Path) -> Iterator[tuple[ImapListeners, str]]:
    store = TenantStore.open(demo.demo_world)
    running = start_imap_listeners(seeded_accounts(store), tls_context(tmp_path / "tls")[0])
    yield running, str(ensure_tls_material(tmp_path / "tls").ca_cert)
    running.stop()


@pytest.mark.parametrize("security", ["ssl", "tls", "none"])
def test_a_seeded_account_signs_in_over_each_security(
        listeners: tuple[ImapListeners, str], security: str) -> None:
    running, ca = listeners
    imap_login("127.0.0.1", running.ports[security], security, USER, PASSWORD, ca_file=ca)
    with pytest.raises(ImapLoginFailed, match=r"AUTHENTICATIONFAILED"):
        imap_login("127.0.0.1", running.ports[security], security, USER, "old-password",
                   ca_file=ca)


def test_the_inbox_holds_the_seeded_items_and_login_waits_for_starttls(
        listeners: tuple[ImapListeners, str]) -> None:
    running, _ = listeners
    client = imaplib.IMAP4("127.0.0.1", running.ports["tls"])
    assert "STARTTLS" in client.capabilities and "LOGINDISABLED" in client.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        client.login(USER, PASSWORD)
    client.logout()
    plain = imaplib.IMAP4("127.0.0.1", running.ports["none"])
    plain.login(USER, PASSWORD)
    assert plain.select("INBOX") == ("OK", [b"40"])  # Adele's 40 seeded items
    plain.logout()


def test_a_certificate_the_client_does_not_trust_fails_the_sign_in(
        listeners: tuple[ImapListeners, str]) -> None:
    running, _ = listeners
    with pytest.raises(ImapLoginFailed, match="cannot reach"):
        imap_login("127.0.0.1", running.ports["ssl"], "ssl", USER, PASSWORD)  # no CA given
