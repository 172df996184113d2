"""The permission audit: every right on the chosen mailboxes, read in chunks, compactly.

Two templates do the reading. ``exchange/perms-mailboxes`` lists the mailboxes (all of them,
or the ones named) with their SendOnBehalf delegates already resolved to primary SMTP
addresses and, for a whole-tenant audit, every SendAs entry of the tenant (one
``Get-RecipientPermission -ResultSize Unlimited`` instead of one call per mailbox), in one
JSON string. ``exchange/perms-audit`` then reads FullAccess (and the other mailbox rights;
SendAs too when the listing did not) of one chunk of mailboxes per pipeline, several
pipelines at once, and returns one JSON string per chunk: the management host drops the
noise (SELF, inherited and Deny entries, only counted unless asked for) so a 5,000-mailbox
tenant comes back as a few hundred kilobytes of text instead of ~70,000 deserialized objects.

Any error in a read is either retried to success or fails the read: a throttled listing
is read again (with backoff, honouring Retry-After), never taken for an empty tenant. A
mailbox whose read is throttled is tried again; one that cannot be read at all is reported
as a failure of the audit, and the snapshot is saved as *incomplete* (the next audit with
the same scope reads it again), never as a complete one that diffs and lookups would trust.

:func:`run_audit` writes each chunk to the snapshot as it arrives: an audit stopped
half-way is continued by the next one with the same scope, which reads only the mailboxes
the snapshot lacks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.core.chunks import chunked
from toolkit.core.connections import Connections, Link
from toolkit.core.errors import ConnectionFailed, Interrupted, PartialFailure
from toolkit.core.jobs import check_role, pipeline_steps
from toolkit.core.pipeline_results import PipelineResult, exchange_message_parts, short_error_id
from toolkit.core.reader import ChunkRead, Settled, read_chunks, read_retrying
from toolkit.core.retry import TransientFailure, classify
from toolkit.core.session import Connection, Step
from toolkit.core.target import Target
from toolkit.core.templates import TemplateCatalog
from toolkit.core.tenants import TenantRef
from toolkit.tasks.lookups import refuse_names
from toolkit.tasks.permissions.group_access import mark_groups, read_groups
from toolkit.tasks.permissions.read import every_mailbox
from toolkit.tasks.permissions.snapshots import (
    GRANT,
    NOISE_KINDS,
    Grant,
    Snapshot,
    SnapshotStore,
    tag_stored_tenants,
)

LIST_TEMPLATE = "exchange/perms-mailboxes"
AUDIT_TEMPLATE = "exchange/perms-audit"
DEFAULT_CHUNK = 250
NOT_FOUND = "ManagementObjectNotFound"  # a mailbox named that the tenant does not have


@dataclass
class Listing:
    """The audit's work list: mailboxes to read, the rights the listing already read
    (SendOnBehalf delegates resolved on the host; SendAs entries for the whole tenant, with
    ``sendas_read``), the noise among those SendAs entries per mailbox, and the mailboxes
    named that do not exist."""

    addresses: list[str]
    delegates: list[Grant]
    missing: list[dict[str, str]]
    sendas_read: bool = False
    noise: dict[str, Counter[str]] = field(default_factory=dict)  # by case-folded mailbox


@dataclass
class ChunkResult:
    mailboxes: list[str]
    grants: list[Grant] = field(default_factory=list)
    noise: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, str]] = field(default_factory=list)


def home_tenant(target: Target) -> str:
    """The tenant a target acts on: ``--tenant``, else the profile's own organization."""
    if target.tenant:
        return target.tenant
    exchange = target.profile.services.get("exchange")
    return (exchange.organization if exchange and exchange.organization
            else target.profile.name)


def tenant_key(target: Target) -> TenantRef:
    """The tenant a target acts on, as named and resolved to its id (which
    :func:`~toolkit.core.target.open_target` did): snapshots are kept under the id, so
    every name of a tenant finds them."""
    if target.expected is not None:
        return target.expected
    name = home_tenant(target)  # a profile without sign-in settings: no id to resolve
    return TenantRef(name, name)


def _json_output(result: PipelineResult, what: str) -> Any:
    """The single JSON string a compact template returns, parsed.

    Any error in the pipeline fails the read, even when there is output (a listing whose
    ``Get-Mailbox`` was throttled still prints an empty list): a transient one as
    :class:`TransientFailure`, for the caller to read again; any other as a failure.
    """
    if result.errors:
        error = result.errors[-1]
        verdict = classify(error.error_id, error.category, error.message)
        if verdict.retry:
            raise TransientFailure(error.message, retry_after=verdict.retry_after,
                                   throttled=verdict.throttled)
        raise PartialFailure(f"{what} failed: {error.message}",
                             hint="No complete snapshot was saved; run the audit again.")
    if result.failed or not result.output:
        raise ConnectionFailed(f"{what}: the template returned nothing",
                               hint="Check the profile's sign-in and the tenant name.")
    return json.loads(str(result.output[-1]))


def _transient(record: dict[str, Any]) -> TransientFailure | None:
    """A record's error, when it is worth reading again."""
    if "id" not in record and "e" not in record:
        return None
    verdict = classify(record.get("id"), record.get("c"), record.get("e"))
    if not verdict.retry:
        return None
    return TransientFailure(str(record.get("e")), retry_after=verdict.retry_after,
                            throttled=verdict.throttled)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _rights(text: str) -> list[str]:
    return [r.strip() for r in str(text or "").split(",") if r.strip()]


class Audit:
    """One audit run against one target (one tenant)."""

    def __init__(self, target: Target, catalog: TemplateCatalog, *,
                 include_noise: bool = False, chunk_size: int = DEFAULT_CHUNK,
                 concurrency: int = 3):
        self.target = target
        self.catalog = catalog
        self.include_noise = include_noise
        self.chunk_size = chunk_size
        self.concurrency = concurrency
        self.connections = Connections(target.open_connection)
        self._list = catalog.render(LIST_TEMPLATE)
        self._audit = catalog.render(AUDIT_TEMPLATE)
        check_role(self._audit.meta, target)

    def warm_up(self) -> None:
        """Start opening the other connections now, while the listing is read: with
        service time, the chunks then start together instead of after a sign-in each."""
        self.connections.warm_up(self.concurrency - 1)

    def list_mailboxes(self, link: Link, mailboxes: Sequence[str] | None) -> Listing:
        """Read the work list; a transient error anywhere in it raises TransientFailure."""
        params = {"Mailboxes": list(mailboxes)} if mailboxes else {}
        result = link.run(lambda connection: pipeline_steps(
            self.target, self.catalog, self._list.meta, self._list.script, params, connection))
        data = _json_output(result, f"listing the mailboxes of {home_tenant(self.target)}")
        for record in [*_as_list(data.get("missing")), *_as_list(data.get("sendonbehalf"))]:
            failure = _transient(record)
            if failure is not None:
                raise failure
        listing = Listing(
            addresses=[str(a) for a in _as_list(data.get("mailboxes"))],
            delegates=[Grant(str(d["m"]), str(d["t"]), "SendOnBehalf",
                             str(d.get("k") or GRANT), "sendonbehalf")
                       for d in _as_list(data.get("sendonbehalf"))],
            missing=[{"mailbox": str(m.get("m")), "error": short_error_id(m.get("id"), m.get("e")),
                      "message": exchange_message_parts(m.get("e"))[1]}
                     for m in _as_list(data.get("missing"))],
            sendas_read=data.get("sendas") is not None,
        )
        for entry in _as_list(data.get("sendas")):
            mailbox, kind = str(entry.get("m")), str(entry.get("k"))
            if self.include_noise or kind not in NOISE_KINDS:
                listing.delegates.extend(
                    Grant(mailbox, str(entry.get("t")), right, kind, "recipient")
                    for right in _rights(entry.get("r", "")))
            else:
                listing.noise.setdefault(mailbox.casefold(), Counter())[kind] += 1
        return listing

    def read(self, addresses: Sequence[str], listing: Listing,
             on_chunk: Callable[[ChunkResult], None]) -> None:
        """Read the mailboxes chunk by chunk, several chunks at once, over the connections
        opened so far and more; ``on_chunk`` gets each chunk's result (with what the
        listing read of its mailboxes: SendOnBehalf delegates, SendAs entries and their
        noise) on this thread."""
        by_mailbox: dict[str, list[Grant]] = {}
        for grant in listing.delegates:
            by_mailbox.setdefault(grant.mailbox.casefold(), []).append(grant)

        def steps(mailboxes: list[str], connection: Connection) -> list[Step]:
            return pipeline_steps(
                self.target, self.catalog, self._audit.meta, self._audit.script,
                {"Mailboxes": mailboxes, "IncludeNoise": self.include_noise,
                 "SkipSendAs": listing.sendas_read}, connection)

        def finished(chunk: list[str], parts: list[ChunkResult]) -> None:
            on_chunk(_merged(chunk, parts, by_mailbox, listing.noise))

        read_chunks(list(chunked(addresses, self.chunk_size)),
                    ChunkRead(steps, self._settle, _gave_up), self.connections, finished,
                    concurrency=self.concurrency, name="psbridge-audit")

    def _settle(self, mailboxes: list[str], output: PipelineResult
                ) -> Settled[list[str], ChunkResult]:
        """Take what one try of a chunk returned; the throttled mailboxes are read again."""
        data = _json_output(output, "reading mailbox permissions")
        result = ChunkResult(mailboxes)
        result.noise.update({k: int(v) for k, v in (data.get("noise") or {}).items()})
        records = _as_list(data.get("records"))
        # A mailbox whose read failed half-way may have sent some records: drop them all.
        failed = {str(r.get("m")): r for r in records if "e" in r}
        retry: list[str] = []
        hint: float | None = None
        for mailbox, record in failed.items():
            verdict = classify(record.get("id"), record.get("c"), record.get("e"))
            if verdict.retry:
                retry.append(mailbox)
                hint = max(hint or 0.0, verdict.retry_after or 0.0) or hint
            else:
                result.failures.append({
                    "mailbox": mailbox,
                    "error": short_error_id(record.get("id"), record.get("e")),
                    "message": exchange_message_parts(record.get("e"))[1]})
        for record in records:
            mailbox = str(record.get("m"))
            if mailbox not in failed:
                result.grants.extend(
                    Grant(mailbox, str(record.get("t")), right, str(record.get("k")),
                          str(record.get("s")))
                    for right in _rights(record.get("r", "")))
        if not retry:
            return Settled(result)
        return Settled(result, (retry, TransientFailure(
            "throttled", retry_after=hint, throttled=True,
            progressed=len(retry) < len(mailboxes))))


def _gave_up(mailboxes: list[str], last: TransientFailure) -> ChunkResult:
    return ChunkResult(mailboxes, failures=[
        {"mailbox": mailbox, "error": "RetriesExhausted",
         "message": f"gave up after retries: {last}"} for mailbox in mailboxes])


def _merged(chunk: list[str], parts: Sequence[ChunkResult], listed: dict[str, list[Grant]],
            noise: dict[str, Counter[str]]) -> ChunkResult:
    """One chunk's result from its tries, with what the listing read of the mailboxes that
    did not fail."""
    result = ChunkResult(chunk)
    failures: dict[str, dict[str, str]] = {}
    for part in parts:
        result.grants.extend(part.grants)
        result.noise.update(part.noise)
        for failure in part.failures:
            failures.setdefault(failure["mailbox"], failure)
    result.failures = list(failures.values())
    failed = {mailbox.casefold() for mailbox in failures}
    for mailbox in chunk:
        if mailbox.casefold() not in failed:
            result.grants.extend(listed.get(mailbox.casefold(), ()))
            result.noise.update(noise.get(mailbox.casefold(), Counter()))
    return result


def _list(audit: Audit, mailboxes: Sequence[str] | None) -> Listing:
    """The work list, a throttled or dropped read tried again; the connection it was read
    over is left to the reading (closed on failure). The first connection is opened outside
    the retries: a host that cannot be reached at all fails at once (exit 4)."""
    audit.connections.open_first()
    with Link(audit.connections) as link:
        try:
            listing = read_retrying(lambda: audit.list_mailboxes(link, mailboxes))
        except TransientFailure as exc:
            raise PartialFailure(f"listing the mailboxes gave up after retries: {exc}",
                                 hint="No snapshot was saved; run the audit again later."
                                 ) from exc
        link.release()
    _refuse_unknown(audit, listing)
    return listing


def _refuse_unknown(audit: Audit, listing: Listing) -> None:
    """Mailboxes named that the tenant does not have: refused (exit 2) with the closest
    addresses, before any is read or a snapshot begun."""
    unknown = [m["mailbox"] for m in listing.missing if NOT_FOUND in m["error"]]
    if not unknown:
        return
    audit.connections.close_spares()  # listing every mailbox opens a connection of its own
    refuse_names("mailbox", unknown, home_tenant(audit.target),
                 lambda: every_mailbox(audit.target, audit.catalog),
                 hint="Nothing was read or saved. Check the mailbox addresses.")


def audit_scope(mailboxes: Sequence[str] | None) -> str:
    return "all" if mailboxes is None else ",".join(mailboxes)


def run_audit(target: Target, catalog: TemplateCatalog, store: SnapshotStore, *,
              mailboxes: Sequence[str] | None, include_noise: bool = False,
              chunk_size: int = DEFAULT_CHUNK, concurrency: int = 3,
              on_start: Callable[[int, bool, int, int], None] | None = None,
              on_chunk: Callable[[ChunkResult], None] | None = None) -> Snapshot:
    """Audit the mailboxes (all with None) into a snapshot, continuing an unfinished one.

    ``on_start(snapshot id, continued, mailboxes in all, mailboxes left to read)``.
    """
    audit = Audit(target, catalog, include_noise=include_noise, chunk_size=chunk_size,
                  concurrency=concurrency)
    tenant, scope = tenant_key(target), audit_scope(mailboxes)
    audit.warm_up()
    try:
        listing = _list(audit, mailboxes)
    except BaseException:
        audit.connections.close_spares()
        raise
    tag_stored_tenants(store, target.resolver)  # an audit stopped before schema 4
    unfinished = store.unfinished(tenant_id=tenant.id, profile=target.profile.name,
                                  scope=scope, noise_kept=include_noise,
                                  failures=listing.missing)
    if unfinished is None:
        snapshot_id = store.begin(tenant=tenant.name, tenant_id=tenant.id,
                                  profile=target.profile.name, scope=scope,
                                  noise_kept=include_noise, failures=listing.missing)
        done: set[str] = set()
    else:
        snapshot_id, done = unfinished
    remaining = [a for a in listing.addresses if a.casefold() not in done]
    if on_start is not None:
        on_start(snapshot_id, unfinished is not None, len(listing.addresses), len(remaining))

    def record(chunk: ChunkResult) -> None:
        store.add_chunk(snapshot_id, chunk.mailboxes, chunk.grants, chunk.noise,
                        chunk.failures)
        if on_chunk is not None:
            on_chunk(chunk)

    try:
        audit.read(remaining, listing, record)
    except KeyboardInterrupt:
        raise Interrupted(f"audit interrupted; snapshot {snapshot_id} holds the chunks read",
                          hint="Run the same audit again to continue it.") from None
    # Until the groups are read the snapshot stays unfinished: the next audit reads them.
    store.add_groups(snapshot_id, read_groups(target, catalog, store.trustees(snapshot_id)))
    return store.finish(snapshot_id, len(listing.addresses))


def read_live(target: Target, catalog: TemplateCatalog, mailboxes: Sequence[str] | None
              ) -> tuple[list[Grant], list[dict[str, str]], dict[str, list[str]]]:
    """Read the access on the mailboxes now, without a snapshot: (grants, failures, the
    members of the groups that hold rights)."""
    audit = Audit(target, catalog, concurrency=target.profile.max_runspaces)
    listing = _list(audit, mailboxes)
    grants: list[Grant] = []
    failures = list(listing.missing)

    def collect(chunk: ChunkResult) -> None:
        grants.extend(chunk.grants)
        failures.extend(chunk.failures)

    audit.read(listing.addresses, listing, collect)
    groups = read_groups(target, catalog, {g.trustee for g in grants if g.kind == GRANT})
    return sorted(mark_groups(grants, groups)), failures, groups


def filter_trustee(grants: Sequence[Grant], trustee: str | None) -> list[Grant]:
    """The grants held by one trustee (case-insensitive); all of them without one."""
    if not trustee:
        return list(grants)
    wanted = trustee.casefold()
    return [g for g in grants if g.trustee.casefold() == wanted]
