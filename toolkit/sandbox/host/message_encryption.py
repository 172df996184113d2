"""WinRM message encryption over plain HTTP ([MS-WSMV] 2.2.9.1), as Windows does it.

After NTLM/Negotiate authentication a client that needs confidentiality without TLS sends
``multipart/encrypted`` bodies sealed with the authentication context; the server answers
in kind with the same context.
"""

from __future__ import annotations

import re
import struct

from spnego import ContextProxy

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
_BOUNDARY = b"--Encrypted Boundary"
_PART_SPLIT = re.compile(rb"--\s*Encrypted Boundary(?:--)?\r\n")
_LENGTH = re.compile(rb"Length=(\d+)")
_OCTET_STREAM = b"\tContent-Type: application/octet-stream\r\n"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'


class EncryptionError(ValueError):
    """The body could not be decrypted: the client and the connection disagree."""


def is_encrypted(content_type: str) -> bool:
    return content_type.lower().startswith("multipart/encrypted")


def unwrap(context: ContextProxy, body: bytes) -> bytes:
    """The SOAP text of an encrypted body, checked against its declared length."""
    parts = [part for part in _PART_SPLIT.split(body) if part]
    if len(parts) < 2 or len(parts) % 2:
        raise EncryptionError("the multipart/encrypted body is malformed")
    message = bytearray()
    for header, payload in zip(parts[0::2], parts[1::2], strict=True):
        length = _LENGTH.search(header)
        if not length or not payload.startswith(_OCTET_STREAM):
            raise EncryptionError("the multipart/encrypted body is malformed")
        sealed = payload[len(_OCTET_STREAM):]
        (signature_length,) = struct.unpack("<I", sealed[:4])
        signature = sealed[4:4 + signature_length]
        try:
            plain = context.unwrap_winrm(signature, sealed[4 + signature_length:])
        except Exception as error:
            raise EncryptionError(f"the body could not be decrypted ({error})") from None
        if len(plain) != int(length.group(1)):
            raise EncryptionError("the decrypted body has the wrong length")
        message += plain
    return bytes(message)


def wrap(context: ContextProxy, message: bytes) -> bytes:
    """``message`` sealed as a ``multipart/encrypted`` body (Content-Type: CONTENT_TYPE)."""
    result = context.wrap_winrm(message)
    sealed = struct.pack("<I", len(result.header)) + result.header + result.data
    return b"".join(
        [
            _BOUNDARY, b"\r\n",
            f"\tContent-Type: {PROTOCOL}\r\n".encode(),
            f"\tOriginalContent: type=application/soap+xml;charset=UTF-8;"
            f"Length={len(message) + result.padding_length}\r\n".encode(),
            _BOUNDARY, b"\r\n",
            _OCTET_STREAM,
            sealed,
            _BOUNDARY, b"--\r\n",
        ]
    )
