"""Pending device-code sign-ins: started by a client, approved by an account, redeemed once."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from toolkit.sandbox.identity import errors
from toolkit.sandbox.identity.model import Account, Tenant

# Entra's user codes are 9 characters; letters and digits that cannot be confused.
_USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_USER_CODE_LENGTH = 9
# Expired flows are kept this long so polling clients get expired_token, not invalid_grant.
_EXPIRED_GRACE_S = 3600.0


class DeviceCodeError(Exception):
    """An approval could not be applied (unknown, expired or already approved code).

    ``status`` and ``reason`` are what the HTTP approval endpoint answers with.
    """

    def __init__(self, message: str, *, status: int = 404, reason: str = "not_found") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass
class DeviceFlow:
    """One sign-in waiting for (or holding) its approval.

    ``tenant`` is None when the client used the ``organizations``/``common`` authority:
    the approving account's home tenant is used then.
    """

    device_code: str = field(repr=False)
    user_code: str
    client_id: str
    tenant: Tenant | None
    scopes: tuple[str, ...]
    expires_at: float
    approved_by: Account | None = None


def normalize_user_code(user_code: str) -> str:
    """Codes are typed by people: ignore case, spaces and dashes."""
    return "".join(ch for ch in user_code.upper() if ch not in " -")


class DeviceCodeStore:
    """Thread-safe registry of device flows (in memory: a restart cancels sign-ins)."""

    def __init__(self, *, lifetime: int, clock: Callable[[], float] = time.time) -> None:
        self.lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._by_device_code: dict[str, DeviceFlow] = {}
        self._by_user_code: dict[str, DeviceFlow] = {}

    def start(
        self, *, client_id: str, tenant: Tenant | None, scopes: tuple[str, ...]
    ) -> DeviceFlow:
        now = self._clock()
        with self._lock:
            self._purge(now)
            user_code = self._new_user_code()
            flow = DeviceFlow(
                device_code=secrets.token_urlsafe(48),
                user_code=user_code,
                client_id=client_id,
                tenant=tenant,
                scopes=scopes,
                expires_at=now + self.lifetime,
            )
            self._by_device_code[flow.device_code] = flow
            self._by_user_code[user_code] = flow
        return flow

    def approve(self, user_code: str, account: Account) -> DeviceFlow:
        """Record *account*'s approval. Raises DeviceCodeError for a code that cannot be."""
        code = normalize_user_code(user_code)
        with self._lock:
            flow = self._by_user_code.get(code)
            if flow is None:
                raise DeviceCodeError(f"No pending sign-in has the code '{code}'.")
            if flow.expires_at <= self._clock():
                raise DeviceCodeError(
                    f"The code '{code}' has expired; start the sign-in again for a new code.",
                    status=410,
                    reason="expired",
                )
            if flow.approved_by is not None:
                raise DeviceCodeError(
                    f"The code '{code}' has already been approved.",
                    status=409,
                    reason="already_approved",
                )
            flow.approved_by = account
        return flow

    def redeem(self, device_code: str, client_id: str) -> DeviceFlow:
        """The approved flow, removed so it cannot be redeemed twice; else an OAuthError."""
        with self._lock:
            flow = self._by_device_code.get(device_code)
            if flow is None or flow.client_id != client_id:
                raise errors.invalid_grant()
            if flow.expires_at <= self._clock():
                raise errors.device_code_expired()
            if flow.approved_by is None:
                raise errors.authorization_pending()
            del self._by_device_code[device_code]
            del self._by_user_code[flow.user_code]
        return flow

    def _new_user_code(self) -> str:
        while True:
            code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(_USER_CODE_LENGTH))
            if code not in self._by_user_code:
                return code

    def _purge(self, now: float) -> None:
        for flow in [
            f for f in self._by_device_code.values() if f.expires_at + _EXPIRED_GRACE_S < now
        ]:
            del self._by_device_code[flow.device_code]
            del self._by_user_code[flow.user_code]
