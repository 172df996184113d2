"""A TLS handshake cut short (a busy host) is a transport fault to retry; a certificate that
fails verification stays a connection failure (exit 4)."""

from __future__ import annotations

import ssl

import requests
import urllib3

from toolkit.core.errors import TransportFault
from toolkit.core.session import Endpoint, _translate

ENDPOINT = Endpoint("https://host.example:5986/wsman", "ntlm", "svc")


def ssl_failure(cause: BaseException) -> requests.exceptions.SSLError:
    """As requests raises it: SSLError(MaxRetryError(reason=urllib3 SSLError(cause)))."""
    return requests.exceptions.SSLError(urllib3.exceptions.MaxRetryError(
        None, "/wsman", urllib3.exceptions.SSLError(cause)))  # type: ignore[arg-type]


def test_a_handshake_cut_short_is_retried() -> None:
    cut = ssl_failure(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))
    assert isinstance(_translate(cut, ENDPOINT), TransportFault)


def test_a_certificate_that_fails_verification_is_not() -> None:
    failed = _translate(ssl_failure(ssl.SSLCertVerificationError(1, "verify failed")), ENDPOINT)
    assert not isinstance(failed, TransportFault)
    assert "TLS verification" in failed.message


def test_a_refused_connection_is_told_from_one_dropped_half_way() -> None:
    """Nothing listening is a verdict sooner than a host that answered with a failure."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        requests.get(f"http://127.0.0.1:{port}/wsman", timeout=5)
    except requests.exceptions.ConnectionError as exc:
        refused = _translate(exc, ENDPOINT)
    assert isinstance(refused, TransportFault) and refused.refused
    dropped = _translate(requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())),
        ENDPOINT)
    assert isinstance(dropped, TransportFault) and not dropped.refused
