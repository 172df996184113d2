"""Where mail is migrated from: the IMAP host behind a POP host, and endpoint settings.

Exchange Online migrates from IMAP servers only. CSVs from the 2010-era POP tool name POP
servers (``pop.gmail.com``); for the providers below the IMAP host is known and used
instead, with a warning. A host whose name says POP (``pop.``, ``pop3.``) and is not in
the table is refused: psbridge cannot guess its IMAP host.
"""

from __future__ import annotations

from dataclasses import dataclass

SECURITY_CHOICES = ("ssl", "tls", "none")
GMAIL_IMAP = "imap.gmail.com"
# Gmail shows labels as folders. These system folders only repeat mail that is in a label
# folder already (All Mail, Important, Starred) or is not worth moving (Spam, Trash); Sent
# Mail and Drafts are kept: they are the only copies. Older accounts in some countries use
# "[Google Mail]". Not "[Gmail]/*": in -ExcludeFolders that drops Sent Mail and Drafts too.
GMAIL_ROOTS = ("[Gmail]", "[Google Mail]")
GMAIL_REPEATS = ("Important", "Starred", "Spam", "Trash")
GMAIL_ALL_MAIL = tuple(f"{root}/All Mail" for root in GMAIL_ROOTS)
GMAIL_EXCLUDED_FOLDERS = (*GMAIL_ALL_MAIL,
                          *(f"{root}/{name}" for root in GMAIL_ROOTS for name in GMAIL_REPEATS))
GMAIL_ARCHIVE_NOTE = (
    "Gmail: mail that is only archived (no label left) is in [Gmail]/All Mail alone and is "
    "not moved; --gmail-all-mail includes All Mail instead (labelled mail then arrives twice)")
GMAIL_ALL_MAIL_NOTE = (
    "Gmail: [Gmail]/All Mail is included (--gmail-all-mail): archived mail is moved, and "
    "every labelled message arrives twice (from its label and from All Mail)")


@dataclass(frozen=True)
class Server:
    """An IMAP source: what New-MigrationEndpoint -IMAP needs."""

    host: str
    port: int = 993
    security: str = "ssl"  # ssl | tls | none

    @property
    def exchange_security(self) -> str:
        """The IMAPSecurityMechanism name Exchange expects."""
        return {"ssl": "Ssl", "tls": "Tls", "none": "None"}[self.security]

    @property
    def endpoint_name(self) -> str:
        return f"{self.host}-{self.port}-{self.security}"

    @property
    def is_gmail(self) -> bool:
        return self.host == GMAIL_IMAP

    def __str__(self) -> str:
        return f"{self.host} (port {self.port}, {self.security.upper()})"


# POP host -> the same provider's IMAP server (all on port 993 with SSL).
POP_TO_IMAP: dict[str, str] = {
    "pop.gmail.com": "imap.gmail.com",
    "pop.googlemail.com": "imap.gmail.com",
    "pop-mail.outlook.com": "outlook.office365.com",
    "pop3.live.com": "outlook.office365.com",
    "pop.mail.yahoo.com": "imap.mail.yahoo.com",
    "pop.aol.com": "imap.aol.com",
    "pop.gmx.net": "imap.gmx.net",
    "pop.gmx.com": "imap.gmx.com",
    "pop3.web.de": "imap.web.de",
    "pop.zoho.com": "imap.zoho.com",
    "pop.fastmail.com": "imap.fastmail.com",
    "pop.yandex.com": "imap.yandex.com",
    "pop.secureserver.net": "imap.secureserver.net",
    "pop.ionos.com": "imap.ionos.com",
}


class UnknownPopHost(ValueError):
    """A POP server whose IMAP counterpart is not known."""


def is_pop_host(host: str) -> bool:
    first = host.split(".", 1)[0]
    return host in POP_TO_IMAP or first in ("pop", "pop3") or first.startswith(("pop-", "pop3-"))


def imap_host_for(host: str) -> tuple[str, bool]:
    """The IMAP host to migrate from, and whether it replaced a POP host.

    Raises :class:`UnknownPopHost` for a POP host missing from :data:`POP_TO_IMAP`.
    """
    folded = host.strip().lower().rstrip(".")
    if folded in POP_TO_IMAP:
        return POP_TO_IMAP[folded], True
    if is_pop_host(folded):
        raise UnknownPopHost(
            f"{host} is a POP server and Exchange Online migrates from IMAP only; its "
            "IMAP server is not in psbridge's provider table")
    return folded, False
