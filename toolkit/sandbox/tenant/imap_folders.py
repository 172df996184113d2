"""The folders an IMAP source account shows, and which of them a batch copies.

Gmail shows labels as folders: a labelled message is in its label's folder (INBOX is one)
and again in ``[Gmail]/All Mail``; ``[Gmail]/Important`` and ``[Gmail]/Starred`` repeat
labelled mail; ``[Gmail]/Sent Mail`` and ``[Gmail]/Drafts`` hold the only copies outside
All Mail; mail that was archived (no label left) is only in All Mail; spam and trash are
outside All Mail. Older accounts in some countries use ``[Google Mail]`` instead of
``[Gmail]``. Exchange imports each folder it is not told to exclude, so a message in two
included folders arrives twice. In ``-ExcludeFolders``, ``<Folder>/*`` excludes the
folder and all its subfolders.

Other IMAP hosts are modelled with every message in INBOX.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

GMAIL_HOSTS = ("imap.gmail.com", "imap.googlemail.com")


def gmail_folders(messages: int, root: str = "[Gmail]", archived: int = 0) -> dict[str, int]:
    """Messages per folder of a Gmail account whose All Mail holds ``messages``, of which
    ``archived`` have no label left."""
    archived = min(archived, messages)
    kept = messages - archived
    sent, drafts = kept // 5, kept // 50
    labelled = kept - sent - drafts
    return {
        "INBOX": labelled,  # INBOX and the user's labels, together
        f"{root}/Sent Mail": sent,
        f"{root}/Drafts": drafts,
        f"{root}/All Mail": messages,
        f"{root}/Important": labelled // 4,
        f"{root}/Starred": labelled // 10,
        f"{root}/Spam": 0,
        f"{root}/Trash": 0,
    }


def source_folders(host: str, messages: int, root: str = "[Gmail]", archived: int = 0
                   ) -> dict[str, int]:
    if host.casefold() in GMAIL_HOSTS:
        return gmail_folders(messages, root, archived)
    return {"INBOX": messages}


def excluded(folder: str, patterns: Iterable[str]) -> bool:
    """Whether ``-ExcludeFolders`` ``patterns`` leave ``folder`` out."""
    name = folder.casefold()
    for pattern in (p.strip().casefold() for p in patterns):
        if pattern.endswith("/*"):
            parent = pattern[:-2]
            if name == parent or name.startswith(parent + "/"):
                return True
        elif name == pattern:
            return True
    return False


def copied(folders: Mapping[str, int], patterns: Iterable[str]) -> int:
    """Items a batch imports: every message of every folder it does not exclude."""
    patterns = list(patterns)
    return sum(count for folder, count in folders.items() if not excluded(folder, patterns))
