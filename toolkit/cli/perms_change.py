"""``psbridge perms grant|revoke|apply|revoke-all``: changing mailbox permissions."""

from __future__ import annotations

from toolkit.cli.perms import perms  # noqa: F401 - commands are added to this group
