"""The sandbox's HTTP front door: credentials are checked before a body is read, and a
Content-Length that is negative or not a number is refused plainly (no traceback)."""

from __future__ import annotations

import base64
import socket

import pytest
from host_testing import ADMIN

from toolkit.sandbox.server import RunningSandbox


def exchange(sandbox: RunningSandbox, head: str, body: bytes = b"") -> bytes:
    with socket.create_connection((sandbox.host, sandbox.port), timeout=10) as client:
        client.sendall(head.encode() + b"\r\n" + body)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


def basic() -> str:
    return "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()


@pytest.mark.parametrize("length", ["-1", "abc", "+5", "0x10"])
def test_a_bad_content_length_is_refused(sandbox: RunningSandbox, length: str,
                                         caplog: pytest.LogCaptureFixture) -> None:
    answer = exchange(sandbox, f"POST /wsman HTTP/1.1\r\nHost: x\r\nAuthorization: {basic()}"
                               f"\r\nContent-Length: {length}\r\n", b"A" * 100)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert "Traceback" not in caplog.text and "failed" not in caplog.text


def test_without_credentials_the_body_is_not_read(sandbox: RunningSandbox) -> None:
    """A 60 MB claim without credentials is answered 401 while its body is still unsent
    (the socket timeout only guards against a server that waits for the upload)."""
    with socket.create_connection((sandbox.host, sandbox.port), timeout=30) as client:
        client.sendall(b"POST /wsman HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: %d\r\n\r\n" % (60 * 1024 * 1024) + b"A" * 1024)
        answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401 ")
