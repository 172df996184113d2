"""``ws.perms.audit`` and ``ws.perms.audit_tenants``: mailbox permissions read into
snapshots, one tenant or the profile's own and every customer tenant it lists."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.api.perms_snapshots import Note, PermissionSnapshots, TenantFailure
from toolkit.api.results import AuditResult
from toolkit.core.errors import InputError, PartialFailure, PsbridgeError

if TYPE_CHECKING:
    from toolkit.tasks.permissions.audit import ChunkResult
    from toolkit.tasks.permissions.drift import Drift
    from toolkit.tasks.permissions.snapshots import Snapshot, SnapshotStore

# A chunk of mailboxes read, as ``on_chunk`` hears of it.
__all__ = ["AuditStart", "ChunkResult", "PermissionAudits", "TenantAudit"]

AUDIT_CHUNK = 250


@dataclass(frozen=True)
class AuditStart:
    """An audit about to read: its tenant and profile, its snapshot (``continued``: an
    unfinished one), the mailboxes in all and those left to read."""

    tenant: str
    profile: str
    snapshot: int
    continued: bool
    total: int
    left: int


@dataclass
class TenantAudit:
    """One tenant's finished audit: its snapshot, the changes since the tenant's previous
    complete snapshot (None when there is none, or this one is incomplete), the report
    written, and how many rows there are to show (the trustee's only, with one)."""

    audit: AuditResult
    trustee: str | None = None
    since_previous: Drift | None = None
    previous: int | None = None
    report: Path | None = None
    shown: int = 0

    @property
    def snapshot(self) -> Snapshot:
        return self.audit.snapshot

    def rows(self) -> Iterator[dict[str, str]]:
        """The rows to show, read from the store as they are used."""
        return (g.as_dict() for g in self.audit.grants(self.trustee))


class PermissionAudits(PermissionSnapshots):
    """Audits of ``ws.perms``: each saved as a snapshot in the job store."""

    def audit(self, mailboxes: Sequence[str] | None = None, *, all: bool = False,
              include_noise: bool = False, concurrency: int | None = None,
              chunk_size: int = AUDIT_CHUNK,
              on_start: Callable[[AuditStart], None] | None = None,
              on_chunk: Callable[[ChunkResult], None] | None = None) -> AuditResult:
        """Read who holds which right on ``mailboxes`` (or every mailbox, ``all=True``)
        into a snapshot, continuing an unfinished audit of the same mailboxes.

        ``on_start`` and ``on_chunk(chunk)`` follow the reading.
        """
        from toolkit.tasks.permissions.audit import home_tenant, run_audit
        from toolkit.tasks.permissions.snapshots import SnapshotStore

        _check_mailboxes(mailboxes, all)
        target = self._ws.target

        def started(snapshot: int, continued: bool, total: int, left: int) -> None:
            if on_start is not None:
                on_start(AuditStart(home_tenant(target), target.profile.name, snapshot,
                                    continued, total, left))

        with SnapshotStore() as store:
            snapshot = run_audit(target, self._ws.catalog, store,
                                 mailboxes=None if all else list(mailboxes or ()),
                                 include_noise=include_noise, chunk_size=chunk_size,
                                 concurrency=concurrency or target.profile.max_runspaces,
                                 on_start=started, on_chunk=on_chunk)
        return AuditResult(snapshot)

    def audit_tenants(self, mailboxes: Sequence[str] | None = None, *, all: bool = False,
                      all_tenants: bool = False, trustee: str | None = None,
                      include_noise: bool = False, report: Path | None = None,
                      concurrency: int | None = None, chunk_size: int = AUDIT_CHUNK,
                      distributed: bool = False,
                      on_start: Callable[[AuditStart], None] | None = None,
                      on_chunk: Callable[[ChunkResult], None] | None = None,
                      on_done: Callable[[Mapping[str, Any]], None] | None = None,
                      on_note: Note | None = None) -> Iterator[TenantAudit | TenantFailure]:
        """Audit this workspace's tenant, or with ``all_tenants`` the profile's own and
        every customer tenant it lists, one snapshot each, yielding each as it finishes.

        With ``all_tenants`` a tenant that fails is yielded as a :class:`TenantFailure`
        and the others go on (Ctrl-C still stops); ``report`` (.json, .csv, .html) is then
        written once per tenant, named ``<stem>-<tenant>``. ``trustee`` narrows the report
        and the rows shown, never the snapshot. ``distributed``: on the Celery workers,
        one task per tenant, each outcome handed to ``on_done`` as it arrives.
        """
        _check_mailboxes(mailboxes, all)
        if all_tenants and self._ws.tenant:
            raise InputError("--all-tenants and --tenant exclude each other")
        if report is not None:
            from toolkit.io.reports import report_format

            report_format(report)
        wanted = None if all else list(mailboxes or ())
        tenants: list[str | None] = [self._ws.tenant]
        if all_tenants:
            tenants = [None, *self.customer_tenants(on_note)]
        if trustee:
            self._require_trustee(trustee, tenants,
                                  hint="Nothing was read or saved. Give the trustee's address.")
        remote: dict[str | None, Mapping[str, Any]] = {}
        if distributed:
            from toolkit.distributed.submit import audit_tenants_distributed

            remote = audit_tenants_distributed(
                self._ws.profile, tenants, mailboxes=wanted, include_noise=include_noise,
                concurrency=concurrency, chunk_size=chunk_size,
                on_done=on_done or (lambda outcome: None))
        for tenant in tenants:
            out = report
            if all_tenants and report is not None:
                out = report.with_name(f"{report.stem}-{tenant or 'home'}{report.suffix}")
            try:
                if distributed:
                    result = _remote_audit(remote[tenant])
                else:
                    with self._tenant(tenant) as ws:
                        result = ws.perms.audit(wanted, all=wanted is None,
                                                include_noise=include_noise,
                                                concurrency=concurrency,
                                                chunk_size=chunk_size, on_start=on_start,
                                                on_chunk=on_chunk)
                yield _reported(result, trustee, out)
            except PsbridgeError as exc:
                if not all_tenants or exc.exit_code == 130:
                    raise
                yield TenantFailure(tenant or "home", exc)

def _check_mailboxes(mailboxes: Sequence[str] | None, all: bool) -> None:
    if bool(mailboxes) == all:
        raise InputError("choose the mailboxes: --mailbox M (repeatable) or --all")


def _remote_audit(outcome: Mapping[str, Any]) -> AuditResult:
    """A tenant's audit as a worker reported it: its snapshot in the shared store."""
    from toolkit.tasks.permissions.snapshots import SnapshotStore

    if "error" in outcome:
        raise PartialFailure(str(outcome["error"]))
    with SnapshotStore() as store:
        return AuditResult(store.load(int(outcome["snapshot"]), rows=False))


def _reported(result: AuditResult, trustee: str | None, out: Path | None) -> TenantAudit:
    """The audit compared with the tenant's previous snapshot, its report written to
    ``out``. An incomplete snapshot is not compared: the mailboxes it lacks would show as
    removed. Rows are streamed from the store."""
    from toolkit.io.perm_reports import write_permission_report
    from toolkit.tasks.permissions.audit_report import COLUMNS, AuditReport
    from toolkit.tasks.permissions.snapshots import SnapshotStore

    snapshot = result.snapshot
    with SnapshotStore() as store:
        drift, previous = (_since_previous(store, snapshot) if snapshot.status == "complete"
                           else (None, None))
        if out is not None:
            summary = AuditReport(snapshot, lambda: store.rows(snapshot.id, trustee), drift,
                                  previous)
            write_permission_report(out, f"Mailbox permissions of {snapshot.tenant}",
                                    summary.summary(), summary.rows(), COLUMNS)
        shown = store.count_rows(snapshot.id, trustee)
    return TenantAudit(result, trustee, drift, previous, out, shown)


def _since_previous(store: SnapshotStore, snapshot: Snapshot
                    ) -> tuple[Drift | None, int | None]:
    from toolkit.tasks.permissions.drift import compare_snapshots

    earlier = [s for s in store.recent(snapshot.tenant_id, limit=2) if s.id != snapshot.id]
    if not earlier:
        return None, None
    return compare_snapshots(store, earlier[0], snapshot), earlier[0].id
