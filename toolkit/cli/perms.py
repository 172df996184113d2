"""``psbridge perms``: mailbox permissions (FullAccess, SendAs, SendOnBehalf).

The group is split by concern: changes (grant, revoke, apply, revoke-all) live in
``perms_change``, reading (audit, diff, snapshots, who-can-access, access-of) in
``perms_audit``; this module adds their commands to the group (they do not import it).
"""

from __future__ import annotations

import click

from toolkit.cli import perms_audit, perms_change


@click.group()
def perms() -> None:
    """Who may open, send as, or send on behalf of which mailbox.

    Grant and revoke one by one or in bulk from a CSV (idempotent and resumable), audit
    every mailbox into snapshots, compare snapshots for drift, and look up access in both
    directions.
    """


for _command in (perms_change.grant, perms_change.revoke, perms_change.apply,
                 perms_change.revoke_all, perms_audit.audit, perms_audit.diff,
                 perms_audit.snapshots, perms_audit.who_can_access, perms_audit.access_of):
    perms.add_command(_command)
