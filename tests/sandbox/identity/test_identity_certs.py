"""TLS material and app certificates."""

from __future__ import annotations

import ipaddress
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509

from toolkit.sandbox.identity import (
    certificate_thumbprint,
    ensure_tls_material,
    make_app_certificate,
)


def test_tls_material_is_created_private_and_reused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = ensure_tls_material(state)
    for key in (first.server_key, state / "ca.key"):
        assert key.stat().st_mode & 0o777 == 0o600
    assert state.stat().st_mode & 0o777 == 0o700
    snapshot = {p: p.read_bytes() for p in state.iterdir()}
    second = ensure_tls_material(state)
    assert second == first
    assert {p: p.read_bytes() for p in state.iterdir()} == snapshot


def test_server_certificate_names_loopback_and_chains_to_ca(tmp_path: Path) -> None:
    material = ensure_tls_material(tmp_path)
    server = x509.load_pem_x509_certificate(material.server_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(material.ca_cert.read_bytes())
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}


def test_strict_tls_handshake_for_every_loopback_name(tmp_path: Path) -> None:
    material = ensure_tls_material(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(material.server_cert, material.server_key)
    client_context = ssl.create_default_context(cafile=str(material.ca_cert))
    client_context.verify_flags |= ssl.VERIFY_X509_STRICT
    for name in ("127.0.0.1", "::1", "localhost"):
        handshake(client_context, server_context, name)


def handshake(client_context: ssl.SSLContext, server_context: ssl.SSLContext,
              server_hostname: str) -> None:
    """A full in-memory TLS handshake; raises SSLCertVerificationError on a bad chain."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server = server_context.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, conn in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    conn.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not complete")


def test_broken_server_certificate_is_reissued_under_the_same_ca(tmp_path: Path) -> None:
    material = ensure_tls_material(tmp_path)
    ca_before = material.ca_cert.read_bytes()
    material.server_cert.write_text("garbage")
    ensure_tls_material(tmp_path)
    assert material.ca_cert.read_bytes() == ca_before
    server = x509.load_pem_x509_certificate(material.server_cert.read_bytes())
    server.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_before))


def test_missing_ca_key_regenerates_everything(tmp_path: Path) -> None:
    material = ensure_tls_material(tmp_path)
    ca_before = material.ca_cert.read_bytes()
    (tmp_path / "ca.key").unlink()
    ensure_tls_material(tmp_path)
    assert material.ca_cert.read_bytes() != ca_before
    ca = x509.load_pem_x509_certificate(material.ca_cert.read_bytes())
    x509.load_pem_x509_certificate(material.server_cert.read_bytes()).verify_directly_issued_by(ca)


def test_app_certificate_thumbprint() -> None:
    cert = make_app_certificate("app")
    assert len(cert.thumbprint) == 40 and cert.thumbprint == cert.thumbprint.upper()
    assert certificate_thumbprint(cert.certificate_pem) == cert.thumbprint
    assert "PRIVATE KEY" in cert.private_key_pem


def test_handshake_fails_against_another_ca(tmp_path: Path) -> None:
    material = ensure_tls_material(tmp_path / "one")
    stranger = ensure_tls_material(tmp_path / "two")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(material.server_cert, material.server_key)
    client_context = ssl.create_default_context(cafile=str(stranger.ca_cert))
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(client_context, server_context, "127.0.0.1")


def test_concurrent_first_start_yields_one_consistent_set(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: ensure_tls_material(tmp_path), range(4)))
    assert len(set(results)) == 1
    ca_cert, server_cert, server_key = results[0]
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    x509.load_pem_x509_certificate(server_cert.read_bytes()).verify_directly_issued_by(ca)
    assert server_key.exists()
    assert not list(tmp_path.glob(".*"))  # no lock or temporary file left behind
