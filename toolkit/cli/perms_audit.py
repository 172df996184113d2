"""``psbridge perms audit|diff|who-can-access|access-of|snapshots``: reading mailbox permissions."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from toolkit.api.perms_lookups import LOOKUP_COLUMNS
from toolkit.cli.context import AppContext
from toolkit.cli.output import emit
from toolkit.core.errors import DriftFound, InputError, PartialFailure, PsbridgeError

if TYPE_CHECKING:
    from toolkit.api import Workspace
    from toolkit.api.perms_lookups import Lookup
    from toolkit.core.config import Profile
    from toolkit.tasks.permissions.drift import Drift
    from toolkit.tasks.permissions.snapshots import Grant, Snapshot, SnapshotStore

GRANT_COLUMNS = ["mailbox", "trustee", "right", "kind", "source"]
SHOWN_ON_SCREEN = 200  # more rows than this go to --out or --output json|csv


def _show_grants(app: AppContext, grants: Iterable[Grant], count: int, title: str) -> None:
    if app.output == "table" and count > SHOWN_ON_SCREEN:
        click.echo(f"{count} entries: too many for the screen; use --out FILE or "
                   "--output json|csv")
        return
    emit(app, [g.as_dict() for g in grants], GRANT_COLUMNS, title=title)


def _audit_one(ws: Workspace, mailboxes: Sequence[str] | None, include_noise: bool,
               concurrency: int | None, chunk_size: int) -> Snapshot:
    """Run the audit into a snapshot with a progress display (a bar on a terminal, plain
    lines otherwise)."""
    from toolkit.cli.progress import JobProgress
    from toolkit.core.runner import RowResult
    from toolkit.tasks.permissions.audit import ChunkResult, home_tenant

    target = ws.target
    label = f"audit {home_tenant(target)}"
    progress: list[JobProgress] = []

    def on_start(snapshot_id: int, continued: bool, total: int, left: int) -> None:
        what = (f"continuing snapshot {snapshot_id}: {total - left} of {total} mailbox(es) "
                "already read" if continued else f"snapshot {snapshot_id}: {total} mailbox(es)")
        click.echo(f"{label}: {what}, profile {target.profile.name}", err=True)
        progress.append(JobProgress(left, label=label).__enter__())

    def on_chunk(chunk: ChunkResult) -> None:
        failed = len(chunk.failures)
        progress[0].update([RowResult(0, "unchanged")] * (len(chunk.mailboxes) - failed)
                           + [RowResult(0, "failed")] * failed)

    try:
        return ws.perms.audit(mailboxes, all=mailboxes is None, include_noise=include_noise,
                              concurrency=concurrency, chunk_size=chunk_size,
                              on_start=on_start, on_chunk=on_chunk).snapshot
    finally:
        if progress:
            progress[0].__exit__(None, None, None)


def _previous(store: SnapshotStore, snapshot: Snapshot) -> tuple[Drift | None, int | None]:
    from toolkit.tasks.permissions.drift import compare_snapshots

    earlier = [s for s in store.recent(snapshot.tenant, limit=2) if s.id != snapshot.id]
    if not earlier:
        return None, None
    return compare_snapshots(store, earlier[0], snapshot), earlier[0].id


def _report(store: SnapshotStore, snapshot: Snapshot, trustee: str | None,
            out: Path | None) -> int:
    """Summarise a new snapshot (and write --out); return how many rows there are to
    show. A --trustee filter narrows what is shown and reported, never what the snapshot
    holds, so later diffs compare like with like. Rows are streamed from the store."""
    from toolkit.io.perm_reports import write_permission_report
    from toolkit.tasks.permissions.audit_report import COLUMNS, AuditReport

    # An incomplete snapshot is not compared: the mailboxes it lacks would show as removed.
    drift, previous_id = (_previous(store, snapshot) if snapshot.status == "complete"
                          else (None, None))
    report = AuditReport(snapshot, lambda: store.rows(snapshot.id, trustee), drift,
                         previous_id)
    if out is not None:
        write_permission_report(out, f"Mailbox permissions of {snapshot.tenant}",
                                report.summary(), report.rows(), COLUMNS)
    facts = snapshot.summary()
    noise = ", ".join(f"{v} {k}" for k, v in sorted(snapshot.noise.items()) if v) or "none"
    click.echo(f"snapshot {snapshot.id} of {snapshot.tenant}: {facts['mailboxes']} "
               f"mailbox(es), {facts['grants']} grant(s), {facts['orphans']} orphaned SID(s), "
               f"{facts['unresolved']} unresolved delegate(s); noise filtered: {noise}"
               + (f"; report written to {out}" if out else ""), err=True)
    if drift is not None:
        click.echo(f"since snapshot {previous_id}: {len(drift.added)} added, "
                   f"{len(drift.removed)} removed", err=True)
    return store.count_rows(snapshot.id, trustee)


@click.command()
@click.option("--mailbox", "mailboxes", multiple=True, metavar="MAILBOX",
              help="A mailbox to audit (repeatable).")
@click.option("--all", "all_mailboxes", is_flag=True, help="Audit every mailbox.")
@click.option("--trustee", metavar="USER",
              help="Show and report only the rights this trustee holds (UPN or primary "
              "address); the snapshot keeps everything.")
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
    from toolkit.api import Workspace
    from toolkit.core.config import resolve_profile
    from toolkit.tasks.permissions.snapshots import SnapshotStore

    if bool(mailboxes) == all_mailboxes:
        raise InputError("choose the mailboxes: --mailbox M (repeatable) or --all")
    if all_tenants and app.tenant:
        raise InputError("--all-tenants and --tenant exclude each other")
    if out is not None:
        from toolkit.io.reports import report_format

        report_format(out)
    wanted = None if all_mailboxes else list(mailboxes)
    profile = resolve_profile(app.profile_name)
    tenants: list[str | None] = [app.tenant]
    if all_tenants:
        tenants = [None, *_customer_tenants(profile)]
    failed: list[str] = []
    remote: dict[str | None, Any] = {}
    if distributed:
        from toolkit.distributed.submit import audit_tenants_distributed

        def done(outcome: Any) -> None:
            what = (f"snapshot {outcome['snapshot']}" if "snapshot" in outcome
                    else f"failed: {outcome['error']}")
            click.echo(f"tenant {outcome['tenant'] or 'home'}: {what}", err=True)

        remote = audit_tenants_distributed(profile, tenants, mailboxes=wanted,
                                           include_noise=include_noise,
                                           concurrency=concurrency, chunk_size=chunk_size,
                                           on_done=done)
    for tenant in tenants:
        target_out = out
        if all_tenants and out is not None:
            target_out = out.with_name(f"{out.stem}-{tenant or 'home'}{out.suffix}")
        try:
            if distributed:
                if "error" in remote[tenant]:
                    raise PartialFailure(str(remote[tenant]["error"]))
                with SnapshotStore() as store:
                    snapshot = store.load(int(remote[tenant]["snapshot"]), rows=False)
                    shown = _report(store, snapshot, trustee, target_out)
            else:
                with Workspace(app.profile_name, tenant) as ws:
                    snapshot = _audit_one(ws, wanted, include_noise, concurrency, chunk_size)
                with SnapshotStore() as store:
                    shown = _report(store, snapshot, trustee, target_out)
            if not all_tenants:
                with SnapshotStore() as store:
                    _show_grants(app, store.rows(snapshot.id, trustee), shown,
                                 f"snapshot {snapshot.id}")
        except PsbridgeError as exc:
            if not all_tenants or exc.exit_code == 130:
                raise
            click.echo(f"error: tenant {tenant or 'home'}: {exc.message}", err=True)
            failed.append(tenant or "home")
            continue
        if snapshot.failures:
            for failure in snapshot.failures:
                click.echo(f"error: {failure['mailbox']}: {failure['message']}", err=True)
            if not all_tenants:
                raise PartialFailure(
                    f"{len(snapshot.failures)} mailbox(es) could not be read "
                    f"(snapshot {snapshot.id} holds the rest"
                    + (", and is saved as incomplete: diffs and lookups skip it)"
                       if snapshot.status != "complete" else ")"),
                    hint="Run the same audit again to read the mailboxes that failed.")
            failed.append(snapshot.tenant)
    if failed:
        raise PartialFailure(f"the audit failed for {len(failed)} of {len(tenants)} "
                             f"tenant(s): {', '.join(failed)}",
                             hint="The other tenants' snapshots were saved.")


def _customer_tenants(profile: Profile) -> list[str]:
    """The customer tenants --all-tenants covers besides the home tenant; the embedded
    sandbox knows its own (its demo partner relationships) only once it runs."""
    tenants = list(profile.tenants)
    if profile.is_sandbox:
        from toolkit.core.target import open_target

        with open_target(profile) as target:
            tenants = list(target.profile.tenants)
    if not tenants:
        click.echo(f"note: profile {profile.name} lists no customer tenants ('tenants' in its "
                   "settings): only its home tenant is covered", err=True)
    return tenants


def _tenant_of(app: AppContext) -> str:
    """The tenant snapshots are kept under, without connecting anywhere: --tenant, else the
    profile's Exchange organization, else (the embedded sandbox names it only once started)
    the tenant of the profile's latest snapshot."""
    from toolkit.core.config import resolve_profile
    from toolkit.tasks.permissions.snapshots import SnapshotStore

    if app.tenant:
        return app.tenant
    profile = resolve_profile(app.profile_name)
    exchange = profile.services.get("exchange")
    if exchange and exchange.organization:
        return exchange.organization
    if profile.is_sandbox:  # the shared sandbox's record names it (customer snapshots don't)
        from toolkit.core.sandbox_plugin import sandbox_plugin
        from toolkit.core.target import sandbox_dir

        running = sandbox_plugin().read_record(sandbox_dir())
        organization = running.profile_settings.get("exchange", {}).get("organization") \
            if running else None
        if organization:
            return str(organization)
    with SnapshotStore() as store:
        latest = store.recent(profile=profile.name, limit=1)
    return latest[0].tenant if latest else profile.name


@click.command()
@click.pass_obj
def snapshots(app: AppContext) -> None:
    """List the permission snapshots of the tenant (newest first)."""
    with app.workspace() as ws:
        rows = [s.summary() for s in ws.perms.snapshots()]
    emit(app, rows, ["snapshot", "tenant", "taken", "scope", "status", "mailboxes", "grants",
                     "orphans", "failed_mailboxes"], title="Permission snapshots")


def _post_webhook(url: str, payload: dict[str, Any]) -> None:
    """POST the drift summary as JSON; a failure is reported, not fatal to the exit code."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "psbridge"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            response.read()
    except (urllib.error.URLError, OSError) as exc:
        click.echo(f"warning: the webhook {url} failed: {exc}", err=True)


def _fix(app: AppContext, drift: Drift, plan_path: Path | None, apply_plan: bool) -> None:
    """Show the plan that undoes the drift; with --apply, run it through 'perms apply'."""
    from toolkit.io.reports import write_csv
    from toolkit.tasks.permissions.drift import fix_plan

    rows, unfixable = fix_plan(drift)
    for grant in unfixable:
        click.echo(f"note: {grant.mailbox}: {grant.trustee} ({grant.kind}) cannot be planned "
                   "by address; remove it by hand", err=True)
    if not rows:
        click.echo("fix: nothing to plan", err=True)
        return
    columns = ["Mailbox", "Trustee", "Right", "Action"]
    if plan_path is not None:
        write_csv(plan_path, [r.as_dict() for r in rows], columns)
    if not apply_plan:
        emit(app, [r.as_dict() for r in rows], columns, title="fix plan (dry run)")
        where = f"written to {plan_path}; " if plan_path else ""
        click.echo(f"dry run: {len(rows)} change(s) planned, nothing changed; {where}"
                   "--apply runs them through 'perms apply'", err=True)
        return
    if plan_path is None:
        raise InputError("--apply needs --plan FILE.csv: the plan is applied from that file "
                         "(and a crash resumes from it)")
    from toolkit.cli.perms_change import apply

    click.get_current_context().invoke(apply, csv_path=plan_path, dry_run=False,
                                       concurrency=None, chunk_size=25, results_path=None)


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
@click.pass_obj
def diff(app: AppContext, snapshot_ids: tuple[int, ...], baseline: Path | None, fix: bool,
         plan_path: Path | None, apply_plan: bool, out: Path | None,
         notify_webhook: str | None, all_tenants: bool) -> None:
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
    """
    from toolkit.core.config import resolve_profile
    from toolkit.io.perm_reports import write_permission_report
    from toolkit.tasks.permissions.drift import read_baseline

    if (apply_plan or plan_path) and not fix:
        raise InputError("--plan and --apply go with --fix")
    if len(snapshot_ids) > (1 if baseline else 2) or (not baseline and len(snapshot_ids) == 1):
        raise InputError("give two snapshots to compare, or none for the last two "
                         "(with --baseline: one snapshot, or none for the latest)")
    if all_tenants and (app.tenant or snapshot_ids or fix):
        raise InputError("--all-tenants compares each tenant's last snapshots: it takes no "
                         "--tenant, snapshot ids or --fix")
    approved = read_baseline(baseline) if baseline else None
    tenants = [_tenant_of(app)]
    if all_tenants:
        tenants += _customer_tenants(resolve_profile(app.profile_name))
    columns = ["change", *GRANT_COLUMNS]
    drifted: list[str] = []
    failed: list[str] = []
    every: list[dict[str, str]] = []  # with --all-tenants: one table (one JSON document)
    for tenant in tenants:
        try:
            drift, newer, label = _drift_of(tenant, snapshot_ids, approved, baseline)
        except InputError as exc:
            if not all_tenants:
                raise
            click.echo(f"error: tenant {tenant}: {exc.message}", err=True)
            failed.append(tenant)
            continue
        rows = drift.rows()
        summary = {"tenant": newer.tenant, "compared": label, **drift.summary()}
        if out is not None:
            target_out = (out.with_name(f"{out.stem}-{tenant}{out.suffix}") if all_tenants
                          else out)
            write_permission_report(target_out,
                                    f"Permission drift of {newer.tenant}: {label}",
                                    {"snapshot": newer.summary(), **summary}, rows, columns)
        if all_tenants:
            every.extend({"tenant": tenant, **r} for r in rows)
        else:
            emit(app, rows, columns, title=label)
        click.echo(f"{newer.tenant}, {label}: {len(drift.added)} added, "
                   f"{len(drift.removed)} removed", err=True)
        if drift.found and notify_webhook:
            _post_webhook(notify_webhook, {**summary, "changes": rows[:500]})
        if fix:
            _fix(app, drift, plan_path, apply_plan)
        if drift.found:
            drifted.append(f"{newer.tenant} ({len(drift.added)} added, "
                           f"{len(drift.removed)} removed)")
    if all_tenants:
        emit(app, every, ["tenant", *columns], title="changes in every tenant")
    if drifted:
        raise DriftFound(f"drift found: {'; '.join(drifted)}"
                         + (f"; not compared: {', '.join(failed)}" if failed else ""))
    if failed:
        raise PartialFailure(f"{len(failed)} of {len(tenants)} tenant(s) could not be "
                             f"compared: {', '.join(failed)}")


def _drift_of(tenant: str, snapshot_ids: Sequence[int], approved: Sequence[Grant] | None,
              baseline: Path | None) -> tuple[Drift, Snapshot, str]:
    """(the drift, the newer snapshot, what was compared) for one tenant."""
    from toolkit.tasks.permissions.drift import compare_baseline, compare_snapshots
    from toolkit.tasks.permissions.snapshots import SnapshotStore

    with SnapshotStore() as store:
        if snapshot_ids:
            loaded = [store.load(i, rows=False) for i in snapshot_ids]
            for snapshot in loaded:
                snapshot.require_complete()
        else:
            loaded = list(reversed(store.recent(tenant, 1 if approved is not None else 2)))
        if approved is not None:
            if not loaded:
                raise InputError(f"no permission snapshot of {tenant} yet",
                                 hint="Run 'psbridge perms audit --all' first.")
            newer = store.load(loaded[-1].id)
            return (compare_baseline(newer, approved), newer,
                    f"snapshot {newer.id} against {baseline}")
        if len(loaded) < 2:
            raise InputError(f"{tenant} has {len(loaded)} permission snapshot(s); diff needs "
                             "two", hint="Run 'psbridge perms audit --all' again later.")
        older, newer = loaded
        return (compare_snapshots(store, older, newer), newer,
                f"snapshot {older.id} -> {newer.id}")


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
