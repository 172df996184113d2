"""``psbridge perms audit|diff|who-can-access|access-of|snapshots``: reading mailbox permissions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from toolkit.api.perms_drift import DRIFT_COLUMNS, FIX_COLUMNS
from toolkit.api.perms_lookups import LOOKUP_COLUMNS
from toolkit.api.perms_snapshots import GRANT_COLUMNS, SNAPSHOT_COLUMNS, TenantFailure
from toolkit.cli.context import AppContext
from toolkit.cli.output import emit
from toolkit.cli.perms_change import change_shown
from toolkit.core.errors import ConnectionFailed, DriftFound, InputError, PartialFailure

if TYPE_CHECKING:
    from toolkit.api.perms_audits import AuditStart, ChunkResult, TenantAudit
    from toolkit.api.perms_drift import FixPlan
    from toolkit.api.perms_lookups import Lookup
    from toolkit.cli.progress import JobProgress

SHOWN_ON_SCREEN = 200  # more rows than this go to --out or --output json|csv


def _note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


class _AuditProgress:
    """An audit's progress on stderr: a line as it starts, then a bar on a terminal
    (plain lines otherwise), closed when the tenant's audit is done."""

    def __init__(self) -> None:
        self._bar: JobProgress | None = None

    def start(self, audit: AuditStart) -> None:
        from toolkit.cli.progress import JobProgress

        label = f"audit {audit.tenant}"
        what = (f"continuing snapshot {audit.snapshot}: {audit.total - audit.left} of "
                f"{audit.total} mailbox(es) already read" if audit.continued
                else f"snapshot {audit.snapshot}: {audit.total} mailbox(es)")
        click.echo(f"{label}: {what}, profile {audit.profile}", err=True)
        self._bar = JobProgress(audit.left, label=label).__enter__()

    def chunk(self, chunk: ChunkResult) -> None:
        from toolkit.api.results import RowResult

        assert self._bar is not None, "chunks follow the start"
        failed = len(chunk.failures)
        self._bar.update([RowResult(0, "unchanged")] * (len(chunk.mailboxes) - failed)
                         + [RowResult(0, "failed")] * failed)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _summarise(done: TenantAudit) -> None:
    """The new snapshot in one line (and the changes since the previous one)."""
    snapshot = done.snapshot
    facts = snapshot.summary()
    noise = ", ".join(f"{v} {k}" for k, v in sorted(snapshot.noise.items()) if v) or "none"
    click.echo(f"snapshot {snapshot.id} of {snapshot.tenant}: {facts['mailboxes']} "
               f"mailbox(es), {facts['grants']} grant(s), {facts['orphans']} orphaned SID(s), "
               f"{facts['unresolved']} unresolved delegate(s); noise filtered: {noise}"
               + (f"; report written to {done.report}" if done.report else ""), err=True)
    if done.since_previous is not None:
        click.echo(f"since snapshot {done.previous}: {len(done.since_previous.added)} added, "
                   f"{len(done.since_previous.removed)} removed", err=True)


def _show_grants(app: AppContext, done: TenantAudit) -> None:
    if app.output == "table" and done.shown > SHOWN_ON_SCREEN:
        click.echo(f"{done.shown} entries: too many for the screen; use --out FILE or "
                   "--output json|csv")
        return
    emit(app, list(done.rows()), list(GRANT_COLUMNS), title=f"snapshot {done.snapshot.id}")


@click.command()
@click.option("--mailbox", "mailboxes", multiple=True, metavar="MAILBOX",
              help="A mailbox to audit (repeatable).")
@click.option("--all", "all_mailboxes", is_flag=True, help="Audit every mailbox.")
@click.option("--trustee", metavar="USER",
              help="Show and report only the rights this trustee holds (UPN or primary "
              "address); the snapshot keeps everything. With --all-tenants, one table over "
              "every tenant; the address's domain names the trustee's tenant.")
@click.option("--include-noise", is_flag=True,
              help="Keep SELF, inherited and Deny entries too (marked by their kind).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a report: .json, .csv (Excel-safe) or .html (self-contained).")
@click.option("--all-tenants", is_flag=True,
              help="Audit the profile's own tenant and every customer tenant it lists, "
              "one snapshot each; a failing tenant does not stop the others.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Chunks read at once (default: the profile's max_runspaces).")
@click.option("--chunk-size", type=click.IntRange(1, 5000), default=250, show_default=True,
              help="Mailboxes per pipeline.")
@click.option("--distributed", is_flag=True,
              help="Audit on the Celery workers ('psbridge worker'), one task per tenant, "
              "into the shared store. Needs [store] url and [queue] broker.")
@click.pass_obj
def audit(app: AppContext, mailboxes: tuple[str, ...], all_mailboxes: bool,
          trustee: str | None, include_noise: bool, out: Path | None, all_tenants: bool,
          concurrency: int | None, chunk_size: int, distributed: bool) -> None:
    """Read who holds FullAccess (and other mailbox rights), SendAs and SendOnBehalf.

    Noise is dropped on the management host: the SELF entry, inherited entries and Deny
    entries are only counted (kept, marked, with --include-noise). Orphaned SIDs left by
    deleted accounts are kept and reported as findings. SendOnBehalf delegates are shown
    by primary SMTP address. Every audit is saved as a snapshot of the tenant in the job
    store, which 'perms diff', 'who-can-access' and 'access-of' read. The snapshot is
    written chunk by chunk: an audit stopped half-way is continued by the next audit with
    the same mailboxes, which reads only what is missing.

    \b
    Examples:
      psbridge perms audit --all --out permissions.html
      psbridge perms audit --mailbox sales@contoso.com --mailbox info@contoso.com
      psbridge perms audit --all --trustee adele.vance@contoso.com -o csv > adele.csv
      psbridge perms audit --all --all-tenants --out audit.json
      psbridge perms audit --all --all-tenants --distributed
    """
    progress = _AuditProgress()
    tenants = 0
    failed: list[str] = []
    # With --all-tenants, one table at the end: the trustee's rights, else the snapshots.
    held: list[dict[str, Any]] = []
    covered: list[dict[str, Any]] = []

    def done(outcome: Mapping[str, Any]) -> None:
        what = (f"snapshot {outcome['snapshot']}" if "snapshot" in outcome
                else f"failed: {outcome['error']}")
        click.echo(f"tenant {outcome['tenant'] or 'home'}: {what}", err=True)

    with app.workspace() as ws:
        try:
            for audited in ws.perms.audit_tenants(
                    mailboxes, all=all_mailboxes, all_tenants=all_tenants, trustee=trustee,
                    include_noise=include_noise, report=out, concurrency=concurrency,
                    chunk_size=chunk_size, distributed=distributed,
                    on_start=progress.start, on_chunk=progress.chunk, on_done=done,
                    on_note=_note):
                progress.close()
                tenants += 1
                if isinstance(audited, TenantFailure):
                    click.echo(f"error: tenant {audited.tenant}: {audited.error.message}",
                               err=True)
                    failed.append(audited.tenant)
                    covered.append({"tenant": audited.tenant, "status": "failed"})
                    continue
                _summarise(audited)
                if not all_tenants:
                    _show_grants(app, audited)
                elif trustee:
                    held += [{"tenant": audited.snapshot.tenant, **row}
                             for row in audited.rows()]
                else:
                    covered.append(audited.snapshot.summary())
                snapshot = audited.snapshot
                if snapshot.failures:
                    for failure in snapshot.failures:
                        click.echo(f"error: {failure['mailbox']}: {failure['message']}",
                                   err=True)
                    if not all_tenants:
                        raise PartialFailure(
                            f"{len(snapshot.failures)} mailbox(es) could not be read "
                            f"(snapshot {snapshot.id} holds the rest"
                            + (", and is saved as incomplete: diffs and lookups skip it)"
                               if snapshot.status != "complete" else ")"),
                            hint="Run the same audit again to read the mailboxes that "
                            "failed.")
                    failed.append(snapshot.tenant)
        finally:
            progress.close()
    if all_tenants and trustee:
        emit(app, held, ["tenant", *GRANT_COLUMNS], title=f"rights of {trustee}")
    elif all_tenants:
        emit(app, covered, list(SNAPSHOT_COLUMNS), title="tenants audited")
    if failed:
        raise PartialFailure(f"the audit failed for {len(failed)} of {tenants} "
                             f"tenant(s): {', '.join(failed)}",
                             hint="The other tenants' snapshots were saved.")


@click.command()
@click.pass_obj
def snapshots(app: AppContext) -> None:
    """List the permission snapshots of the tenant (newest first)."""
    with app.workspace() as ws:
        rows = [s.summary() for s in ws.perms.snapshots()]
    emit(app, rows, list(SNAPSHOT_COLUMNS), title="Permission snapshots")


def _fix(app: AppContext, plan: FixPlan, apply_plan: bool) -> None:
    """Show the plan that undoes the drift; with --apply, run it as 'perms apply' does."""
    for grant in plan.unfixable:
        click.echo(f"note: {grant.mailbox}: {grant.trustee} ({grant.kind}) cannot be planned "
                   "by address; remove it by hand", err=True)
    if not plan.rows:
        click.echo("fix: nothing to plan", err=True)
        return
    if not apply_plan:
        emit(app, plan.rows, list(FIX_COLUMNS), title="fix plan (dry run)")
        where = f"written to {plan.path}; " if plan.path else ""
        click.echo(f"dry run: {len(plan.rows)} change(s) planned, nothing changed; {where}"
                   "--apply runs them through 'perms apply'", err=True)
        return
    path = plan.path
    if path is None:
        raise InputError("--apply needs --plan FILE.csv: the plan is applied from that file "
                         "(and a crash resumes from it)")
    change_shown(app, lambda ws: ws.perms.plan_apply(path), dry_run=False, concurrency=None,
                 chunk_size=25, results_path=None)


@click.command()
@click.argument("snapshot_ids", nargs=-1, type=int, metavar="[SNAPSHOT_A SNAPSHOT_B]")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Compare the snapshot (default: the latest) with this approved list, a "
              "CSV in the 'perms apply' format.")
@click.option("--fix", is_flag=True,
              help="Plan the changes that undo the difference (dry run unless --apply).")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False, path_type=Path),
              help="With --fix: write the plan to this CSV ('perms apply' format).")
@click.option("--apply", "apply_plan", is_flag=True,
              help="With --fix --plan: apply the plan now, as a 'perms apply' job.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the differences to a .json, .csv or .html file.")
@click.option("--notify-webhook", metavar="URL",
              help="When drift is found, POST a JSON summary of it to this URL (one post "
              "per tenant with drift).")
@click.option("--all-tenants", is_flag=True,
              help="Compare the last snapshots of the profile's own tenant and of every "
              "customer tenant it lists (as 'perms audit --all-tenants' made them).")
@click.option("--distributed", is_flag=True,
              help="Compare on the Celery workers ('psbridge worker'), one task per tenant, "
              "from the shared store. Needs [store] url and [queue] broker.")
@click.pass_obj
def diff(app: AppContext, snapshot_ids: tuple[int, ...], baseline: Path | None, fix: bool,
         plan_path: Path | None, apply_plan: bool, out: Path | None,
         notify_webhook: str | None, all_tenants: bool, distributed: bool) -> None:
    """Grants added and removed between two snapshots (default: the tenant's last two).

    Exit code 3 when anything changed, 0 when nothing did, so a scheduler can alert (with
    --all-tenants: 3 if any tenant drifted, else 1 if a tenant could not be compared).
    With --baseline, 'added' means held but not approved and 'removed' means approved but
    missing (FullAccess, SendAs and SendOnBehalf; other mailbox rights are not compared).

    \b
    Examples:
      psbridge perms audit --all && psbridge perms diff
      psbridge perms diff 12 15 --out changes.html
      psbridge perms diff --baseline approved.csv --fix --plan fix.csv
      psbridge perms diff --baseline approved.csv --fix --plan fix.csv --apply
      psbridge perms diff --notify-webhook https://hooks.example.com/psbridge
      psbridge perms diff --all-tenants --notify-webhook https://hooks.example.com/psbridge
      psbridge perms diff --all-tenants --distributed
    """
    if (apply_plan or plan_path) and not fix:
        raise InputError("--plan and --apply go with --fix")
    if len(snapshot_ids) > (1 if baseline else 2) or (not baseline and len(snapshot_ids) == 1):
        raise InputError("give two snapshots to compare, or none for the last two "
                         "(with --baseline: one snapshot, or none for the latest)")
    if all_tenants and (app.tenant or snapshot_ids or fix):
        raise InputError("--all-tenants compares each tenant's last snapshots: it takes no "
                         "--tenant, snapshot ids or --fix")
    columns = list(DRIFT_COLUMNS)
    tenants = 0
    drifted: list[str] = []
    failed: list[str] = []
    every: list[dict[str, str]] = []  # with --all-tenants: one table (one JSON document)
    with app.workspace() as ws:
        for found in ws.perms.drift_tenants(snapshot_ids, baseline=baseline,
                                            all_tenants=all_tenants, report=out,
                                            distributed=distributed, on_note=_note):
            tenants += 1
            if isinstance(found, TenantFailure):
                click.echo(f"error: tenant {found.tenant}: {found.error.message}", err=True)
                failed.append(found.tenant)
                continue
            rows, drift, tenant = found.rows(), found.drift, found.snapshot.tenant
            if all_tenants:
                every.extend({"tenant": found.tenant, **r} for r in rows)
            else:
                emit(app, rows, columns, title=found.compared)
            click.echo(f"{tenant}, {found.compared}: {len(drift.added)} added, "
                       f"{len(drift.removed)} removed", err=True)
            if drift.found and notify_webhook:
                try:
                    ws.perms.notify(notify_webhook, found)
                except ConnectionFailed as exc:  # reported, not fatal to the exit code
                    click.echo(f"warning: {exc.message}", err=True)
            if fix:
                _fix(app, ws.perms.fix_plan(drift, plan_path), apply_plan)
            if drift.found:
                drifted.append(f"{tenant} ({len(drift.added)} added, "
                               f"{len(drift.removed)} removed)")
    if all_tenants:
        emit(app, every, ["tenant", *columns], title="changes in every tenant")
    if drifted:
        raise DriftFound(f"drift found: {'; '.join(drifted)}"
                         + (f"; not compared: {', '.join(failed)}" if failed else ""))
    if failed:
        raise PartialFailure(f"{len(failed)} of {tenants} tenant(s) could not be "
                             f"compared: {', '.join(failed)}")


def _show_lookup(app: AppContext, lookup: Lookup) -> None:
    emit(app, lookup.rows, LOOKUP_COLUMNS, title=lookup.source)
    through = lookup.through_groups
    click.echo(f"{len(lookup.rows)} right(s)"
               + (f", {through} through a group" if through else "")
               + f", from {lookup.source}", err=True)


@click.command("who-can-access")
@click.argument("mailbox")
@click.option("--live", is_flag=True, help="Read the tenant now instead of the latest snapshot.")
@click.option("--expand-groups", is_flag=True,
              help="List the members of each group that holds a right instead of the group "
              "(the 'via' column names the group; direct members only).")
@click.pass_obj
def who_can_access(app: AppContext, mailbox: str, live: bool, expand_groups: bool) -> None:
    """Everyone who can open, send as, or send on behalf of MAILBOX.

    A right held by a mail-enabled security group shows as one row of kind 'group';
    --expand-groups shows its members instead.

    \b
    Examples:
      psbridge perms who-can-access sales@contoso.com
      psbridge perms who-can-access sales@contoso.com --expand-groups
      psbridge perms who-can-access sales@contoso.com --live
    """
    with app.workspace() as ws:
        _show_lookup(app, ws.perms.who_can_access(mailbox, live=live,
                                                  expand_groups=expand_groups))


@click.command("access-of")
@click.argument("user")
@click.option("--live", is_flag=True,
              help="Read every mailbox of the tenant now instead of the latest snapshot.")
@click.pass_obj
def access_of(app: AppContext, user: str, live: bool) -> None:
    """Every mailbox USER can open, send as, or send on behalf of.

    Rights USER holds through a mail-enabled security group it is a direct member of are
    listed too, with the group in the 'via' column.

    \b
    Examples:
      psbridge perms access-of adele.vance@contoso.com
      psbridge perms access-of adele.vance@contoso.com --live -o csv
    """
    with app.workspace() as ws:
        _show_lookup(app, ws.perms.access_of(user, live=live))
