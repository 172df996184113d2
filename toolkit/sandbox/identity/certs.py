"""TLS material for the sandbox's HTTPS endpoint, and app certificates for app-only auth.

`ensure_tls_material(directory)` creates, once, a private CA and a server certificate it
signs for ``127.0.0.1``, ``::1`` and ``localhost``; later calls reuse them while they are
valid and consistent. Clients trust the sandbox by trusting the CA file only (for msal
and requests: ``verify=<ca_cert path>``), never by turning verification off.

Files in *directory*: ``ca.pem``, ``ca.key`` (0600), ``server.pem``, ``server.key``
(0600). Certificates follow the CA/Browser profile closely enough for strict verifiers
(Python 3.13's ``VERIFY_X509_STRICT``): critical basic constraints and key usage,
subject and authority key identifiers, and ``serverAuth`` on the leaf.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from toolkit.sandbox.identity._files import directory_lock, ensure_private_dir, write_atomic

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SERVER_CERT = "server.pem"
SERVER_KEY = "server.key"

SERVER_DNS_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")

_CA_DAYS = 3650
_SERVER_DAYS = 825
# Reissue a certificate that would expire within this margin, so a long-running
# sandbox started from reused material does not cross an expiry.
_RENEW_MARGIN = dt.timedelta(days=7)
# Backdate notBefore a little: a client clock slightly behind must still accept it.
_BACKDATE = dt.timedelta(minutes=5)

_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class TlsMaterial(NamedTuple):
    """Paths of the sandbox TLS files (unpacks as ``ca_cert, server_cert, server_key``)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


@dataclass(frozen=True)
class AppCertificate:
    """A self-signed certificate for an app registration (app-only certificate auth).

    ``thumbprint`` is the uppercase SHA-1 hex digest Windows and Entra show, the value
    msal's ``client_credential={"thumbprint": ...}`` and ``-CertificateThumbprint`` take.
    """

    certificate_pem: str
    private_key_pem: str
    thumbprint: str


def ensure_tls_material(directory: str | Path) -> TlsMaterial:
    """Return the sandbox CA and server certificate in *directory*, creating them if needed.

    Reuses the files when the CA is valid, the server certificate is valid, signed by
    that CA, matches its key and names every loopback address; otherwise reissues what
    is wrong (the server certificate alone when the CA is still good).
    """
    root = Path(directory)
    ensure_private_dir(root)
    material = TlsMaterial(root / CA_CERT, root / SERVER_CERT, root / SERVER_KEY)
    with directory_lock(root):
        now = _utcnow()
        ca = _load_pair(root / CA_CERT, root / CA_KEY)
        if ca is None or not _is_current(ca[0], now):
            ca = _write_ca(root, now)
        server = _load_pair(material.server_cert, material.server_key)
        if server is None or not _server_is_usable(server[0], ca[0], now):
            _write_server(root, ca, now)
    return material


def make_app_certificate(
    subject_cn: str = "psbridge sandbox app", *, days: int = 365
) -> AppCertificate:
    """Create a self-signed RSA certificate like ``New-SelfSignedCertificate`` makes for an app.

    RSA because Entra (and msal's assertion signing, RS256/PS256) needs an RSA key.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = _utcnow()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(key_encipherment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return AppCertificate(
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        private_key_pem=_key_pem(key).decode("ascii"),
        thumbprint=certificate_thumbprint(cert),
    )


def certificate_thumbprint(certificate: x509.Certificate | str | bytes) -> str:
    """Uppercase SHA-1 hex thumbprint of a certificate (object or PEM)."""
    if not isinstance(certificate, x509.Certificate):
        data = certificate.encode("ascii") if isinstance(certificate, str) else certificate
        certificate = x509.load_pem_x509_certificate(data)
    return certificate.fingerprint(hashes.SHA1()).hex().upper()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _load_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, _PrivateKey] | None:
    """Load a certificate and its private key; None when missing, unreadable or mismatched."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return None
    if _spki(key.public_key()) != _spki(cert.public_key()):
        return None
    return cert, key


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _is_current(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now and now + _RENEW_MARGIN < cert.not_valid_after_utc


def _server_is_usable(server: x509.Certificate, ca: x509.Certificate, now: dt.datetime) -> bool:
    if not _is_current(server, now):
        return False
    try:
        server.verify_directly_issued_by(ca)
        san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
        return False
    dns = set(san.get_values_for_type(x509.DNSName))
    ips = set(san.get_values_for_type(x509.IPAddress))
    return dns >= set(SERVER_DNS_NAMES) and ips >= {ipaddress.ip_address(a) for a in SERVER_IPS}


def _write_ca(root: Path, now: dt.datetime) -> tuple[x509.Certificate, _PrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "psbridge sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, "psbridge sandbox local CA"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    write_atomic(root / CA_KEY, _key_pem(key), mode=0o600)
    write_atomic(root / CA_CERT, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _write_server(root: Path, ca: tuple[x509.Certificate, _PrivateKey], now: dt.datetime) -> None:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in SERVER_DNS_NAMES]
        + [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IPS]
    )
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + dt.timedelta(days=_SERVER_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(key_encipherment=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(san, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_atomic(root / SERVER_KEY, _key_pem(key), mode=0o600)
    write_atomic(root / SERVER_CERT, cert.public_bytes(serialization.Encoding.PEM))


def _leaf_key_usage(*, key_encipherment: bool) -> x509.KeyUsage:
    """Leaf key usage; key encipherment applies to RSA keys only, not to ECDSA ones."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
