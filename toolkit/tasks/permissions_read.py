"""Reading mailbox permissions as they are now, for planners and audits.

``current_permissions`` runs ``exchange/perms-read`` once per chunk of mailboxes over one
connection; the template filters on the management host (explicit Allow grants only: no
SELF, inherited or Deny entries) and returns one compact record per mailbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.core.errors import PartialFailure
from toolkit.core.jobs import check_role, pipeline_steps
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog

READ_TEMPLATE = "exchange/perms-read"
READ_CHUNK = 50


@dataclass(frozen=True)
class MailboxPermissions:
    """One mailbox's explicit grants. Holders are as Exchange prints them: UPNs for
    FullAccess and SendAs (or an orphaned SID), names for SendOnBehalf."""

    requested: str  # the identity asked for
    found: bool
    key: str = ""  # primary SMTP address
    names: tuple[str, ...] = ()
    full_access: tuple[str, ...] = ()
    send_as: tuple[str, ...] = ()
    send_on_behalf: tuple[str, ...] = ()
    message: str | None = None

    def holders(self, right: str) -> tuple[str, ...]:
        return {"FullAccess": self.full_access, "SendAs": self.send_as,
                "SendOnBehalf": self.send_on_behalf}[right]


@dataclass(frozen=True)
class Trustee:
    """A trustee resolved in the tenant: ``key`` is its UPN; ``names`` every spelling
    Exchange may print for it (UPN, name, display name)."""

    requested: str
    found: bool
    key: str = ""
    names: frozenset[str] = field(default_factory=frozenset)
    message: str | None = None

    def holds(self, holders: Sequence[str]) -> bool:
        return any(h.casefold() in self.names for h in holders)


@dataclass
class TenantState:
    """What a planner needs: mailboxes and trustees by the (case-folded) identity asked."""

    mailboxes: dict[str, MailboxPermissions] = field(default_factory=dict)
    trustees: dict[str, Trustee] = field(default_factory=dict)

    def mailbox(self, identity: str) -> MailboxPermissions | None:
        return self.mailboxes.get(identity.casefold())

    def trustee(self, identity: str) -> Trustee | None:
        return self.trustees.get(identity.casefold())


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(str(v) for v in items if v not in (None, ""))


def _parse(record: Mapping[str, Any], state: TenantState) -> None:
    requested = str(record.get("Input") or "")
    found = bool(record.get("Found"))
    message = None if record.get("Message") is None else str(record["Message"])
    key = str(record.get("Key") or "")
    if record.get("Kind") == "trustee":
        names = frozenset(n.casefold() for n in (*_strings(record.get("Names")), requested))
        state.trustees[requested.casefold()] = Trustee(requested, found, key, names, message)
        return
    state.mailboxes[requested.casefold()] = MailboxPermissions(
        requested, found, key, _strings(record.get("Names")),
        _strings(record.get("FullAccess")), _strings(record.get("SendAs")),
        _strings(record.get("SendOnBehalf")), message)


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def current_permissions(target: Target, catalog: TemplateCatalog,
                        mailboxes: Sequence[str] | None, *, trustees: Sequence[str] = (),
                        holder: str | None = None, chunk_size: int = READ_CHUNK
                        ) -> TenantState:
    """The explicit FullAccess, SendAs and SendOnBehalf grants of ``mailboxes``.

    ``mailboxes=None`` reads every mailbox of the tenant (in one pipeline). ``trustees``
    are resolved to their UPN and names along the way. With ``holder``, only that
    trustee's grants are returned, and only mailboxes where it holds one.
    """
    rendered = catalog.render(READ_TEMPLATE)
    check_role(rendered.meta, target)
    batches: list[dict[str, Any]]
    if mailboxes is None:
        batches = [{"AllMailboxes": True}]
    else:
        batches = [{"Mailboxes": batch}
                   for batch in _chunks(list(dict.fromkeys(mailboxes)), chunk_size)]
    if trustees:
        batches = batches or [{}]
        batches[0]["Trustees"] = list(dict.fromkeys(trustees))
    state = TenantState()
    if not batches:
        return state
    with target.open_connection() as connection:
        for params in batches:
            if holder:
                params["Trustee"] = holder
            result = connection.run(pipeline_steps(target, catalog, rendered.meta,
                                                   rendered.script, params, connection))
            if result.failed:
                error = result.errors[-1] if result.errors else None
                raise PartialFailure(
                    f"reading permissions failed: {error.message if error else 'no reason'}",
                    hint="Nothing was changed; run the command again.")
            for record in result.output:
                if isinstance(record, Mapping):
                    _parse(record, state)
    return state
