"""``psbridge perms``: mailbox permissions (FullAccess, SendAs, SendOnBehalf).

The group is split by concern: changes (grant, revoke, apply, revoke-all) live in
``perms_change``, reading (audit, diff, who-can-access, access-of) in ``perms_audit``;
both add their commands to this group.
"""

from __future__ import annotations

import click


@click.group()
def perms() -> None:
    """Who may open, send as, or send on behalf of which mailbox.

    Grant and revoke one by one or in bulk from a CSV (idempotent and resumable), audit
    every mailbox into snapshots, compare snapshots for drift, and look up access in both
    directions.
    """


# The command modules register themselves on the group above.
from toolkit.cli import perms_audit, perms_change  # noqa: E402, F401
