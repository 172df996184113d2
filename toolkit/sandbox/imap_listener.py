"""IMAP for the sandbox tenants' seeded migration sources (``imap.gmail.com`` and the like).

A migration test signs in to the source as Exchange Online would. Against the sandbox the
source is not the real ``imap.gmail.com`` but these listeners, one per connection security
Exchange offers for IMAP: ``ssl`` (TLS from the first byte, port 993 style), ``tls``
(plain, then STARTTLS, port 143 style; LOGIN is refused before it, as RFC 3501 section
6.2.3 LOGINDISABLED allows) and ``none`` (plain). They accept the accounts of every seeded
source with their passwords and report each account's item count as the INBOX size.

Only what a sign-in check needs is served: CAPABILITY, NOOP, STARTTLS, LOGIN, SELECT or
EXAMINE of INBOX, LOGOUT; anything else is answered BAD, naming the command.
"""

from __future__ import annotations

import socketserver
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolkit.sandbox.tenant.model import ImapAccount

SECURITIES = ("ssl", "tls", "none")
# Gmail's answer to a wrong password (the sandbox tenant's migration errors quote it too).
REFUSED = "[AUTHENTICATIONFAILED] Invalid credentials (Failure)"

AccountLookup = Callable[[str, str], ImapAccount | None]


def _arguments(text: str) -> list[str]:
    """IMAP atoms and quoted strings (``"a \\"b\\""``), as imaplib sends LOGIN's."""
    found: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == " ":
            index += 1
        elif text[index] == '"':
            index += 1
            value = []
            while index < len(text) and text[index] != '"':
                if text[index] == "\\" and index + 1 < len(text):
                    index += 1
                value.append(text[index])
                index += 1
            found.append("".join(value))
            index += 1
        else:
            end = text.find(" ", index)
            end = len(text) if end < 0 else end
            found.append(text[index:end])
            index = end
    return found


class _Session(socketserver.StreamRequestHandler):
    server: _ImapServer

    def setup(self) -> None:
        if self.server.security == "ssl":
            self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
        self.secure = self.server.security == "ssl"
        self.account: ImapAccount | None = None
        super().setup()

    def _capabilities(self) -> str:
        if self.server.security == "tls" and not self.secure:
            return "IMAP4rev1 STARTTLS LOGINDISABLED"
        return "IMAP4rev1 AUTH=PLAIN"

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode("utf-8") + b"\r\n")

    def handle(self) -> None:
        self._say(f"* OK [CAPABILITY {self._capabilities()}] psbridge sandbox IMAP ready")
        while True:
            raw = self.rfile.readline(8192)
            if not raw:
                return
            tag, _, rest = raw.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            command, _, arguments = rest.partition(" ")
            if not self._answer(tag, command.upper(), arguments):
                return

    def _answer(self, tag: str, command: str, arguments: str) -> bool:
        """Answer one command; False once the session ends."""
        if command == "CAPABILITY":
            self._say(f"* CAPABILITY {self._capabilities()}")
        elif command == "NOOP":
            pass
        elif command == "LOGOUT":
            self._say("* BYE psbridge sandbox IMAP closing")
            self._say(f"{tag} OK LOGOUT completed")
            return False
        elif command == "STARTTLS" and self.server.security == "tls" and not self.secure:
            self._say(f"{tag} OK Begin TLS negotiation now")
            self.wfile.flush()
            self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
            self.rfile = self.request.makefile("rb")
            self.wfile = socketserver._SocketWriter(self.request)  # type: ignore[attr-defined]
            self.secure = True
            return True
        elif command == "LOGIN":
            return self._login(tag, _arguments(arguments))
        elif command in ("SELECT", "EXAMINE") and self.account is not None:
            self._say(f"* {self.account.items} EXISTS")
            self._say("* 0 RECENT")
            self._say(f"{tag} OK [READ-WRITE] {command} completed")
            return True
        else:
            self._say(f"{tag} BAD {command or 'empty command'}: not served by the sandbox "
                      "IMAP listener")
            return True
        self._say(f"{tag} OK {command} completed")
        return True

    def _login(self, tag: str, arguments: list[str]) -> bool:
        if self.server.security == "tls" and not self.secure:
            self._say(f"{tag} NO [PRIVACYREQUIRED] LOGIN is disabled before STARTTLS")
        elif len(arguments) != 2:
            self._say(f"{tag} BAD LOGIN takes a user name and a password")
        else:
            self.account = self.server.accounts(arguments[0], arguments[1])
            if self.account is None:
                self._say(f"{tag} NO {REFUSED}")
            else:
                self._say(f"{tag} OK [CAPABILITY IMAP4rev1] {self.account.user} authenticated "
                          "(Success)")
        return True


class _ImapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], security: str, accounts: AccountLookup,
                 ssl_context: ssl.SSLContext):
        self.security = security
        self.accounts = accounts
        self.ssl_context = ssl_context
        super().__init__(address, _Session)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that goes away or fails its TLS handshake is no error of ours."""


@dataclass
class ImapListeners:
    """Running listeners: ``ports`` by security (ssl, tls, none)."""

    ports: dict[str, int]
    _servers: list[_ImapServer] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()


def start_imap_listeners(accounts: AccountLookup, ssl_context: ssl.SSLContext,
                         host: str = "127.0.0.1") -> ImapListeners:
    """One listener per security on ephemeral ports of ``host``, served in daemon threads."""
    listeners = ImapListeners({})
    for security in SECURITIES:
        server = _ImapServer((host, 0), security, accounts, ssl_context)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                         name=f"sandbox-imap-{security}", daemon=True).start()
        listeners.ports[security] = server.server_address[1]
        listeners._servers.append(server)
    return listeners


def seeded_accounts(store: Any) -> AccountLookup:
    """The lookup of a sandbox store's IMAP source accounts (user name and password)."""

    def lookup(user: str, password: str) -> ImapAccount | None:
        with store.read() as world:
            for tenant in world.tenants.values():
                for source in tenant.imap_sources:
                    account = source.account(user)
                    if account is not None and account.password == password:
                        return account
        return None

    return lookup


__all__ = ["REFUSED", "SECURITIES", "ImapListeners", "seeded_accounts", "start_imap_listeners"]
