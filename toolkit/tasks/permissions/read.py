"""Reading mailbox permissions as they are now, for planners and audits.

``current_permissions`` runs ``exchange/perms-read`` once per chunk of mailboxes over one
connection; the template filters on the management host (explicit Allow grants only: no
SELF, inherited or Deny entries) and returns one compact record per mailbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.core.chunks import chunked
from toolkit.core.connections import Connections
from toolkit.core.errors import PartialFailure
from toolkit.core.jobs import check_role, pipeline_steps, run_once
from toolkit.core.pipeline_results import ErrorInfo, PipelineResult, exchange_message_parts
from toolkit.core.reader import ChunkRead, Settled, read_chunks, read_retrying
from toolkit.core.retry import Outcome, TransientFailure, classify
from toolkit.core.session import Connection, Step
from toolkit.core.sids import is_orphan_sid
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog

READ_TEMPLATE = "exchange/perms-read"
LIST_TEMPLATE = "exchange/list-mailboxes"
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
    message = (None if record.get("Message") is None
               else exchange_message_parts(str(record["Message"]))[1])
    key = str(record.get("Key") or "")
    if record.get("Kind") == "trustee":
        names = frozenset(n.casefold() for n in (*_strings(record.get("Names")), requested))
        state.trustees[requested.casefold()] = Trustee(requested, found, key, names, message)
        return
    state.mailboxes[requested.casefold()] = MailboxPermissions(
        requested, found, key, _strings(record.get("Names")),
        _strings(record.get("FullAccess")), _strings(record.get("SendAs")),
        _strings(record.get("SendOnBehalf")), message)


def _check(records: Sequence[Any], params: Mapping[str, Any]
           ) -> tuple[list[Mapping[str, Any]], tuple[dict[str, Any], TransientFailure] | None]:
    """The records read, and the parameters to read again those that were throttled, with
    why (None when none were). Any other failed read (not "not found") fails the read."""
    kept: list[Mapping[str, Any]] = []
    again: dict[str, list[str]] = {"Mailboxes": [], "Trustees": []}
    reason: TransientFailure | None = None
    for record in records:
        if not isinstance(record, Mapping):
            continue
        if record.get("Found") or record.get("ErrorId") is None:
            kept.append(record)
            continue
        verdict = classify(str(record["ErrorId"]), record.get("Category"),
                           record.get("Message"), reason=record.get("Reason"))
        if verdict.retry:
            again["Trustees" if record.get("Kind") == "trustee" else "Mailboxes"].append(
                str(record.get("Input")))
            reason = TransientFailure(str(record.get("Message")),
                                      retry_after=verdict.retry_after,
                                      throttled=verdict.throttled)
        elif record.get("Kind") == "unreadable" or verdict.outcome is not Outcome.NOT_FOUND:
            raise PartialFailure(
                f"reading {record.get('Input')} failed: "
                f"{exchange_message_parts(str(record.get('Message')))[1]}",
                hint="Nothing was changed; run the command again.")
        else:
            kept.append(record)
    if reason is None:
        return kept, None
    reason.progressed = bool(kept)  # only the throttled part is read again
    retry: dict[str, Any] = {k: v for k, v in again.items() if v}
    if "Trustee" in params:
        retry["Trustee"] = params["Trustee"]
    return kept, (retry, reason)


def current_permissions(target: Target, catalog: TemplateCatalog,
                        mailboxes: Sequence[str] | None, *, trustees: Sequence[str] = (),
                        holder: str | None = None, chunk_size: int = READ_CHUNK,
                        concurrency: int | None = None) -> TenantState:
    """The explicit FullAccess, SendAs and SendOnBehalf grants of ``mailboxes``.

    ``mailboxes=None`` reads every mailbox of the tenant. ``trustees``
    are resolved to their UPN and names along the way. With ``holder``, only that
    trustee's grants are returned, and only mailboxes where it holds one.

    Chunks of ``chunk_size`` mailboxes (and trustees) are read by up to ``concurrency``
    connections at once (default: the profile's ``max_runspaces``); throttled reads are
    retried with backoff like the runner's.
    """
    rendered = catalog.render(READ_TEMPLATE)
    check_role(rendered.meta, target)
    if mailboxes is None:
        mailboxes = every_mailbox(target, catalog)
    boxes = [{"Mailboxes": chunk}
             for chunk in chunked(dict.fromkeys(mailboxes), chunk_size)]
    # Orphaned SIDs resolve to nothing in the tenant: they stand for themselves.
    orphans = [t for t in dict.fromkeys(trustees) if is_orphan_sid(t)]
    people = [{"Trustees": chunk}
              for chunk in chunked((t for t in dict.fromkeys(trustees) if t not in orphans),
                                   chunk_size)]
    batches: list[dict[str, Any]] = [
        {**(boxes[i] if i < len(boxes) else {}), **(people[i] if i < len(people) else {})}
        for i in range(max(len(boxes), len(people)))]
    for params in batches:
        if holder:
            params["Trustee"] = holder

    state = TenantState()
    for sid in orphans:
        state.trustees[sid.casefold()] = Trustee(sid, True, sid, frozenset({sid.casefold()}))
    if not batches:
        return state

    def steps(params: dict[str, Any], connection: Connection) -> list[Step]:
        return pipeline_steps(target, catalog, rendered.meta, rendered.script, params,
                              connection)

    def record(_params: dict[str, Any], parts: list[list[Mapping[str, Any]]]) -> None:
        for records in parts:
            for found in records:
                _parse(found, state)

    connections = Connections(target.open_connection)
    connections.open_first()
    read_chunks(batches, ChunkRead(steps, _settle, _gave_up), connections, record,
                concurrency=concurrency or target.profile.max_runspaces)
    return state


def _settle(params: dict[str, Any], result: PipelineResult
            ) -> Settled[dict[str, Any], list[Mapping[str, Any]]]:
    if result.failed:
        _failed(result.errors)
    found, again = _check(result.output, params)
    return Settled(found, again)  # read again only what was throttled


def _gave_up(_params: dict[str, Any], last: TransientFailure) -> list[Mapping[str, Any]]:
    raise PartialFailure(f"reading permissions gave up after retries: {last}",
                         hint="Nothing was changed; try again later.") from last


def _failed(errors: Sequence[ErrorInfo]) -> None:
    error = errors[-1] if errors else None
    if error is not None:
        verdict = classify(error.error_id, error.category, error.message, reason=error.reason)
        if verdict.retry:
            raise TransientFailure(error.message, retry_after=verdict.retry_after,
                                   throttled=verdict.throttled)
    raise PartialFailure(
        f"reading permissions failed: {error.message if error else 'no reason given'}",
        hint="Nothing was changed; run the command again.")


def every_mailbox(target: Target, catalog: TemplateCatalog) -> list[str]:
    """The primary SMTP address of every mailbox of the tenant.

    Any error in the listing (even a non-terminating one, next to some output) is retried
    when transient and fails the read otherwise: a throttled ``Get-Mailbox`` must never
    pass for a tenant without mailboxes.
    """
    def listing() -> list[Any]:
        result = run_once(target, catalog, LIST_TEMPLATE, {})
        if result.failed or result.errors:
            _failed(result.errors)
        return result.output

    try:
        output = read_retrying(listing)
    except TransientFailure as exc:
        raise PartialFailure(f"listing the mailboxes gave up after retries: {exc}",
                             hint="Nothing was changed; try again later.") from exc
    return [str(m["PrimarySmtpAddress"]) for m in output
            if isinstance(m, Mapping) and m.get("PrimarySmtpAddress")]


def require_trustee(target: Target, catalog: TemplateCatalog, trustee: str, where: str, *,
                    hint: str | None = None) -> Trustee:
    """``trustee`` resolved in the tenant (an orphaned SID stands for itself). One the
    tenant (``where``, for the message) does not know is refused (exit 2) naming the
    closest mailbox address."""
    from toolkit.tasks.lookups import unknown_address

    resolved = current_permissions(target, catalog, [], trustees=[trustee]).trustee(trustee)
    if resolved is None or not resolved.found:
        raise unknown_address("user", trustee, where, every_mailbox(target, catalog),
                              hint=hint)
    return resolved
