"""Let pyspnego's NTLM acceptor check passwords against the backend's accounts.

pyspnego's pure-Python NTLM server reads the accounts it accepts from the file named by
the ``NTLM_USER_FILE`` environment variable, a process-wide setting that fits neither a
backend whose accounts live in memory nor two sandboxes in one process. Its two lookup
functions (``spnego._ntlm._get_credential_file`` and ``_get_credential``) are therefore
wrapped once: while :func:`accounts` is active on the current thread they answer from the
given password lookup, and otherwise they behave exactly as before. pyspnego is pinned
below 0.13 in pyproject.toml; tests/sandbox/host cover the NTLM and Negotiate paths.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import spnego._ntlm as spnego_ntlm
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
from spnego.exceptions import ErrorCode, SpnegoError

PasswordLookup = Callable[[str], str | None]

_STORE = "<psbridge sandbox accounts>"
_lookup: contextvars.ContextVar[PasswordLookup | None] = contextvars.ContextVar(
    "psbridge_sandbox_ntlm_lookup", default=None
)
_install_lock = threading.Lock()
_installed = False


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        original_file = spnego_ntlm._get_credential_file
        original_credential = spnego_ntlm._get_credential

        def credential_file() -> str | None:
            return _STORE if _lookup.get() is not None else original_file()

        def credential(
            store: str | None, domain: str | None = None, username: str | None = None
        ) -> Any:
            lookup = _lookup.get()
            if store != _STORE or lookup is None:
                return original_credential(store, domain, username)
            password = lookup(f"{domain}\\{username}") if domain else None
            if password is None and username:
                password = lookup(username)
            if password is None:
                raise SpnegoError(ErrorCode.failure, context_msg=f"unknown account {username!r}")
            return domain or None, username, lmowfv1(password), ntowfv1(password)

        spnego_ntlm._get_credential_file = credential_file
        spnego_ntlm._get_credential = credential
        _installed = True


@contextmanager
def accounts(lookup: PasswordLookup) -> Iterator[None]:
    """NTLM acceptor contexts created or stepped inside this block check against ``lookup``."""
    _install()
    token = _lookup.set(lookup)
    try:
        yield
    finally:
        _lookup.reset(token)
