"""Identity resolution as Exchange Online and Graph do it.

Exchange's ``MailboxIdParameter``, ``RecipientIdParameter`` and
``SecurityPrincipalIdParameter`` accept any identifier of an object: name, alias, display
name, any SMTP address, UPN, GUID, ExchangeGuid, ExternalDirectoryObjectId or
distinguished name. One match resolves; several distinct objects give the "matches
multiple entries" error; none gives ``ManagementObjectNotFoundException``.

Graph's ``-UserId`` takes the object id or the UPN only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import chain

from toolkit.sandbox.tenant import errors
from toolkit.sandbox.tenant.model import Group, Mailbox, Tenant, User

ORPHAN_SID = re.compile(r"^S-1-5-21(-\d+){3,4}$", re.IGNORECASE)


def distinguished_name(tenant: Tenant, name: str) -> str:
    return (
        f"CN={name},OU={tenant.name},OU=Microsoft Exchange Hosted Organizations,"
        "DC=NAMPR01A001,DC=PROD,DC=OUTLOOK,DC=COM"
    )


def _strip_smtp(value: str) -> str:
    return value[5:] if value.casefold().startswith("smtp:") else value


# key -> the distinct ids it names. Almost every key names one object and the tables are
# rebuilt for the whole tenant, so one id is a 1-tuple (a fraction of a set's cost) and only
# a shared key (a display name, say) gets a set.
Index = dict[str, tuple[str] | set[str]]


def _build_index(pairs: Iterable[tuple[str, str]]) -> Index:
    """The table of (folded key, id) pairs."""
    table: Index = {}
    for key, value in pairs:
        found = table.get(key)
        if found is None:
            table[key] = (value,)
        elif isinstance(found, tuple):
            if value != found[0]:
                table[key] = {found[0], value}
        else:
            found.add(value)
    return table


class Resolver:
    """Lookup tables of one tenant, built once per store revision."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        # Built for a whole tenant (tens of thousands of keys) on the first lookup after a
        # directory change, so each key is folded once (see also Index).
        boxes = [(mailbox, [key.casefold() for key in self._mailbox_keys(mailbox)])
                 for mailbox in tenant.mailboxes.values()]
        self._mailboxes = _build_index((key, box.guid) for box, keys in boxes for key in keys)
        self._users = _build_index(chain(
            ((key, box.user_id) for box, keys in boxes for key in keys),
            ((key.casefold(), user.id) for user in tenant.users.values()
             for key in (user.id, user.upn, user.display_name, user.mail_nickname) if key),
        ))
        self._groups = _build_index(
            (key.casefold(), group.id) for group in tenant.groups.values()
            for key in (group.id, group.email, group.display_name, group.alias))

    def _mailbox_keys(self, mailbox: Mailbox) -> list[str]:
        user = self.tenant.users.get(mailbox.user_id)
        keys = [
            mailbox.guid,
            mailbox.exchange_guid,
            mailbox.user_id,
            mailbox.name,
            mailbox.alias,
            mailbox.display_name,
            mailbox.primary_smtp,
            distinguished_name(self.tenant, mailbox.name),
            *(_strip_smtp(address) for address in mailbox.email_addresses),
        ]
        if user is not None:
            keys.append(user.upn)
        return [key for key in keys if key]

    def mailbox(self, identity: str, *, display: str | None = None) -> Mailbox:
        """The one mailbox ``identity`` names; Exchange's errors otherwise."""
        matches = self._mailboxes.get(_strip_smtp(identity).strip().casefold(), ())
        if not matches:
            raise errors.not_found(display or identity)
        if len(matches) > 1:
            raise errors.ambiguous(display or identity)
        return self.tenant.mailboxes[next(iter(matches))]

    def principal(self, identity: str) -> User:
        """A security principal (``-User`` / ``-Trustee``): any directory user."""
        matches = self._users.get(_strip_smtp(identity).strip().casefold(), ())
        if not matches:
            raise errors.not_found(identity)
        if len(matches) > 1:
            raise errors.ambiguous(identity)
        return self.tenant.users[next(iter(matches))]

    def group(self, identity: str) -> Group | None:
        """The mail-enabled security group ``identity`` names, if one does."""
        matches = self._groups.get(_strip_smtp(identity).strip().casefold(), ())
        if len(matches) > 1:
            raise errors.ambiguous(identity)
        return self.tenant.groups[next(iter(matches))] if matches else None

    def security_principal(self, identity: str) -> User | Group:
        """``-User`` / ``-Trustee`` of the permission cmdlets: a user or a mail-enabled
        security group."""
        key = _strip_smtp(identity).strip().casefold()
        if key in self._groups and key not in self._users:
            group = self.group(identity)
            assert group is not None
            return group
        return self.principal(identity)

    def graph_user(self, user_id: str) -> User:
        """Graph's ``-UserId``: the object id or the userPrincipalName."""
        folded = user_id.strip().casefold()
        for user in self.tenant.users.values():
            if user.id == folded or user.upn.casefold() == folded:
                return user
        raise errors.graph_not_found(user_id)

    def user(self, identity: str) -> User:
        """Exchange ``Get-User -Identity``: any identifier of the user or its mailbox."""
        return self.principal(identity)
