"""HTTP authentication of sandbox accounts: Basic, and NTLM/Negotiate through pyspnego.

Basic is checked on every request. NTLM (raw, or wrapped in SPNEGO by a Negotiate client)
authenticates the TCP connection, as Windows' HTTP.sys does: later requests on the same
connection carry no Authorization header, and the established context is also what seals
and unseals ``multipart/encrypted`` bodies.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field

import spnego
from spnego.channel_bindings import GssChannelBindings

from toolkit.sandbox.host import ntlm_accounts
from toolkit.sandbox.interface import Backend, SessionContext

log = logging.getLogger(__name__)

CHALLENGES = ("Negotiate", 'Basic realm="WSMAN"')
_CONNECTION_SCHEMES = {"negotiate", "ntlm"}


@dataclass
class AuthResult:
    """The outcome of one request's authentication.

    ``context`` is None when the request must be answered 401 with ``headers``; otherwise
    ``headers`` may carry the last Negotiate token for the client.
    """

    context: SessionContext | None
    headers: list[tuple[str, str]] = field(default_factory=list)


def challenge(token: bytes | None = None, scheme: str = "Negotiate") -> list[tuple[str, str]]:
    if token is not None:
        return [("WWW-Authenticate", f"{scheme} {base64.b64encode(token).decode()}")]
    return [("WWW-Authenticate", value) for value in CHALLENGES]


class ConnectionAuth:
    """Authentication state of one HTTP connection."""

    def __init__(self, backend: Backend, channel_bindings: GssChannelBindings | None = None):
        self._backend = backend
        self._channel_bindings = channel_bindings
        self._handshake: spnego.ContextProxy | None = None
        self._handshake_account: list[str] = []
        self.security: spnego.ContextProxy | None = None
        """The completed NTLM/Negotiate context, used for message encryption."""
        self.context: SessionContext | None = None
        self._basic: tuple[str, str, SessionContext] | None = None

    def authenticate(self, authorization: str | None) -> AuthResult:
        if not authorization:
            if self.security is not None:  # the connection authenticated earlier
                return AuthResult(self.context)
            return AuthResult(None, challenge())
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            return AuthResult(*self._basic_auth(credentials.strip()))
        if scheme.lower() in _CONNECTION_SCHEMES:
            return self._negotiate(scheme, credentials.strip())
        return AuthResult(None, challenge())

    def _basic_auth(self, credentials: str) -> tuple[SessionContext | None, list[tuple[str, str]]]:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
            username, _, password = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, challenge()
        if self._basic and self._basic[:2] == (username, password):
            return self._basic[2], []
        context = self._backend.authenticate(username, password)
        if context is None:
            log.info("Basic authentication failed for %r", username)
            return None, challenge()
        self._basic = (username, password, context)
        return context, []

    def _lookup(self, name: str) -> str | None:
        password = self._backend.account_password(name)
        if password is not None:
            self._handshake_account.append(name)
        return password

    def _negotiate(self, scheme: str, credentials: str) -> AuthResult:
        try:
            token = base64.b64decode(credentials, validate=True)
        except binascii.Error:
            return AuthResult(None, challenge())
        if self._handshake is None:
            self.security = None
            self.context = None
            self._handshake_account = []
        try:
            with ntlm_accounts.accounts(self._lookup):
                if self._handshake is None:
                    self._handshake = spnego.server(
                        protocol="negotiate", channel_bindings=self._channel_bindings
                    )
                out_token = self._handshake.step(token)
        except Exception as error:
            log.info("%s authentication failed: %s", scheme, error)
            self._handshake = None
            return AuthResult(None, challenge())
        if not self._handshake.complete:
            return AuthResult(None, challenge(out_token, scheme))
        context = self._account_context()
        final = challenge(out_token, scheme) if out_token else []
        if context is None:
            self._handshake = None
            return AuthResult(None, challenge())
        self.security, self._handshake, self.context = self._handshake, None, context
        return AuthResult(context, final)

    def _account_context(self) -> SessionContext | None:
        if not self._handshake_account:
            return None
        account = self._handshake_account[-1]
        password = self._backend.account_password(account)
        return None if password is None else self._backend.authenticate(account, password)
