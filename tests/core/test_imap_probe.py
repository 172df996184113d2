"""The IMAP sign-in check, against a minimal IMAP server on localhost (no TLS)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest

from toolkit.core.imap_probe import ImapLoginFailed, imap_login


class _Imap(socketserver.StreamRequestHandler):
    """Just enough IMAP4rev1 for imaplib: CAPABILITY, LOGIN, LOGOUT."""

    def handle(self) -> None:
        self.wfile.write(b"* OK IMAP4rev1 ready\r\n")
        for raw in self.rfile:
            tag, command, *args = raw.decode().strip().split(" ")
            if command == "CAPABILITY":
                self.wfile.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" +
                                 f"{tag} OK done\r\n".encode())
            elif command == "LOGIN":
                ok = args == ["ann", '"right-pw"']  # imaplib quotes the password
                self.wfile.write(f"{tag} OK signed in\r\n".encode() if ok else
                                 f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"
                                 .encode())
            elif command == "LOGOUT":
                self.wfile.write(f"* BYE\r\n{tag} OK bye\r\n".encode())
                return


@pytest.fixture
def imap_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Imap)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_good_credentials_sign_in(imap_port: int) -> None:
    imap_login("127.0.0.1", imap_port, "none", "ann", "right-pw")


def test_wrong_password_is_refused_with_the_servers_reason(imap_port: int) -> None:
    with pytest.raises(ImapLoginFailed, match=r"refused the sign-in of ann: .*AUTHENTICATIONFAILED"):
        imap_login("127.0.0.1", imap_port, "none", "ann", "wrong")


def test_unreachable_server() -> None:
    with pytest.raises(ImapLoginFailed, match=r"cannot reach 127\.0\.0\.1:1 from this machine"):
        imap_login("127.0.0.1", 1, "none", "ann", "pw")
