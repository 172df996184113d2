"""An IMAP sign-in from this machine, to check a user's source credentials before a
migration (Test-MigrationServerAvailability checks the server only, never a login).

It runs here, not in Microsoft's datacenter: a firewall that lets Exchange Online in may
still keep this machine out, and the reverse.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl

TIMEOUT_S = 15.0


class ImapLoginFailed(Exception):
    """The server refused the credentials, or could not be reached; the text says which."""


def imap_login(host: str, port: int, security: str, user: str, password: str,
               *, ca_file: str | None = None) -> None:
    """Sign in and out; raises :class:`ImapLoginFailed` saying what went wrong."""
    context = ssl.create_default_context(cafile=ca_file)
    try:
        if security == "ssl":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=context,
                                                      timeout=TIMEOUT_S)
        else:
            client = imaplib.IMAP4(host, port, timeout=TIMEOUT_S)
            if security == "tls":
                client.starttls(ssl_context=context)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapLoginFailed(f"cannot reach {host}:{port} from this machine: {exc}") from None
    try:
        client.login(user, password)
    except imaplib.IMAP4.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ImapLoginFailed(f"{host} refused the sign-in of {user}: {reason}") from None
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()
