#!/usr/bin/env python3
"""The permission audit of a large tenant: compact vs naive, scale, memory, service time.

Serves a sandbox tenant of ``--mailboxes`` mailboxes with four grants each
(``toolkit.sandbox.tenant.demo.large_seed`` plus an app registration to sign in with) in a
separate process, then:

1. compact: ``psbridge perms audit --all`` as a user runs it (the CLI's wall time, start-up
   and sign-in included): one listing pipeline (mailboxes, SendOnBehalf, and SendAs of the
   whole tenant in one ``Get-RecipientPermission -ResultSize Unlimited``), then chunks of
   250 mailboxes whose FullAccess entries are filtered on the host and come back as one
   JSON string each;
2. naive (without service time only): what a hand-written script does:
   ``Get-Mailbox -ResultSize Unlimited`` returning full objects, then one pipeline per
   mailbox with ``Get-MailboxPermission`` and ``Get-RecipientPermission`` returning full
   deserialized objects, filtered in Python. The per-mailbox part is measured on a sample
   of mailboxes (``--sample``) and scaled to the whole tenant; sign-in excluded.

It prints the times, the speed-up, the audit CLI's and the sandbox's peak RSS, and checks
that both ways found the same grants on the sampled mailboxes. Targets: speed-up >= 10x,
CLI peak RSS < 150 MB, sandbox peak RSS < 1 GB.

``--baseline N`` first audits a tenant of N mailboxes in the same run and prints how the
audit time grew; target: at most 1.1x the growth of the tenant (6.6x from 5,000 to 30,000).

``--cmdlet-ms`` / ``--latency-ms`` give every cmdlet call a service time and every request
a network delay, as Exchange Online has; the naive run is skipped and the audit's
efficiency is printed: (mailboxes x cmdlet time / connections) / wall time, the bound
being one permission read per mailbox over ``--connections`` connections (start-up,
sign-in and the listing included in the wall time). Target: >= 0.85.

Exit status 1 when a target is missed. The load of the machine (``uptime``) is printed
with the figures: on a shared machine, run it more than once.

    python scripts/bench_audit.py [--mailboxes 5000] [--sample 500] [--baseline 1000]
    python scripts/bench_audit.py --mailboxes 3000 --cmdlet-ms 20 --latency-ms 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.sandbox.process import spawn_sandbox

TENANT = "bench.onmicrosoft.com"
SELF = "NT AUTHORITY\\SELF"


def write_seed(path: Path, mailboxes: int, grants: int) -> None:
    from toolkit.sandbox.tenant import demo

    seed = demo.large_seed(mailboxes, grants)
    seed["apps"] = [{"client_id": demo.DEMO_APP_ID, "client_secret": demo.DEMO_APP_SECRET,
                     "display_name": "psbridge bench", "tenants": [TENANT],
                     "roles": ["Exchange.ManageAsApp"]}]
    path.write_text(json.dumps(seed))


@dataclass
class Audit:
    wall: float  # seconds, CLI start-up and sign-in included
    cli_mb: float  # the audit CLI's peak RSS
    sandbox_mb: float  # the sandbox's peak RSS (seed loading included)
    report: dict[str, Any]


def _peak_mb(pid: int) -> float:
    """A running process's peak RSS (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def compact(env: dict[str, str], report: Path, sandbox_pid: int, connections: int) -> Audit:
    """``psbridge perms audit --all`` in a child process, measured."""
    cli = [sys.executable, "-c", "import resource, runpy, sys; sys.argv[0] = 'psbridge'; "
           "code = 0\ntry: runpy.run_module('toolkit', run_name='__main__')\n"
           "except SystemExit as exc: code = exc.code\n"
           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
           "sys.exit(code)",
           "--profile", "bench", "perms", "audit", "--all", "--concurrency", str(connections),
           "--out", str(report)]
    started = time.perf_counter()
    done = subprocess.run(cli, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024
    return Audit(wall, peak, _peak_mb(sandbox_pid), json.loads(report.read_text()))


def serve_and_audit(home: Path, env: dict[str, str], mailboxes: int, grants: int,
                    args: argparse.Namespace, sample: int
                    ) -> tuple[Audit, tuple[float, float, int, dict[str, set[Any]]] | None]:
    """Serve a tenant, audit it; with ``sample``, also the naive way."""
    seed = home / f"seed-{mailboxes}.json"
    write_seed(seed, mailboxes, grants)
    # A data folder per tenant size: the audit must not compare with the other size's
    # snapshot (its drift would be the whole difference).
    env = {**env, "PSBRIDGE_DATA": str(home / f"data-{mailboxes}")}
    service = ["--cmdlet-ms", str(args.cmdlet_ms), "--latency-ms", str(args.latency_ms)]
    with spawn_sandbox(["--port", "0", "--https", "--seed", str(seed), *service,
                        "--write-profile", "bench"], env) as sandbox:
        audit = compact(env, home / f"audit-{mailboxes}.json", sandbox.process.pid,
                        args.connections)
        found = naive(env, sample) if sample else None
    return audit, found


def _explicit(entries: list[Any], principal: str) -> set[tuple[str, str]]:
    """The naive script's own filtering: drop SELF, inherited and Deny entries."""
    kept = set()
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("IsInherited") or entry.get("Deny"):
            continue
        if entry.get("AccessControlType") == "Deny" or entry.get(principal) == SELF:
            continue
        rights = entry.get("AccessRights") or []
        for right in rights if isinstance(rights, list) else str(rights).split(","):
            kept.add((str(entry.get(principal)), str(right).strip()))
    return kept


def naive(env: dict[str, str], sample: int) -> tuple[float, float, int, dict[str, set[Any]]]:
    """(listing seconds, per-mailbox seconds over the sample, mailboxes, grants by mailbox)."""
    os.environ.update(env)
    from toolkit.core.config import resolve_profile
    from toolkit.core.session import Step
    from toolkit.core.target import open_target
    from toolkit.core.templates import TemplateCatalog

    catalog = TemplateCatalog()
    found: dict[str, set[Any]] = {}
    with open_target(resolve_profile("bench")) as target, target.open_connection() as conn:
        target.connect(conn, ["exchange"], catalog)
        started = time.perf_counter()
        listing = conn.run([Step("Get-Mailbox -ResultSize Unlimited")])
        listed = time.perf_counter() - started
        addresses = [m["PrimarySmtpAddress"] for m in listing.output]
        started = time.perf_counter()
        for address in addresses[:sample]:
            result = conn.run([Step(
                "param($Identity) Get-MailboxPermission -Identity $Identity; "
                "Get-RecipientPermission -Identity $Identity", {"Identity": address})])
            found[address] = (_explicit([o for o in result.output if "User" in o], "User")
                              | _explicit([o for o in result.output if "Trustee" in o],
                                          "Trustee"))
        per_mailbox = time.perf_counter() - started
    return listed, per_mailbox, len(addresses), found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=5000)
    parser.add_argument("--grants", type=int, default=None,
                        help="grants in the tenant (default: four per mailbox)")
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--baseline", type=int, default=None,
                        help="audit a tenant of this many mailboxes first: the time ratio")
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--cmdlet-ms", type=int, default=0)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    service_time = args.cmdlet_ms > 0
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} on {os.cpu_count()} cores")
    ok = True
    with tempfile.TemporaryDirectory(prefix="psbridge-bench-") as tmp:
        home = Path(tmp)
        env = {**os.environ, "PSBRIDGE_CONFIG": str(home / "config.toml"),
               "PSBRIDGE_DATA": str(home / "data")}
        base: Audit | None = None
        if args.baseline:
            base, _ = serve_and_audit(home, env, args.baseline, 4 * args.baseline, args, 0)
        audit, naive_found = serve_and_audit(
            home, env, args.mailboxes, args.grants or 4 * args.mailboxes, args,
            0 if service_time else args.sample)
    summary = audit.report["summary"]["snapshot"]
    print(f"tenant: {summary['mailboxes']} mailboxes; the audit found {summary['grants']} "
          f"grants, {summary['orphans']} orphaned SIDs, noise filtered "
          f"{audit.report['summary']['noise']}")
    print(f"compact (psbridge perms audit --all, CLI wall time incl. start-up and sign-in): "
          f"{audit.wall:.1f}s; audit CLI peak RSS {audit.cli_mb:.0f} MB (target < 150 MB); "
          f"sandbox peak RSS {audit.sandbox_mb:.0f} MB (target < 1024 MB)")
    ok = audit.cli_mb < 150 and audit.sandbox_mb < 1024
    if base is not None:
        growth, size = audit.wall / base.wall, args.mailboxes / args.baseline
        print(f"baseline {args.baseline} mailboxes: {base.wall:.1f}s; the audit time grew "
              f"x{growth:.2f} for a tenant x{size:.1f} as large (target <= x{1.1 * size:.2f})")
        ok = ok and growth <= 1.1 * size
    if service_time:
        bound = args.mailboxes * args.cmdlet_ms / 1000 / args.connections
        efficiency = bound / audit.wall
        print(f"service time: --cmdlet-ms {args.cmdlet_ms} --latency-ms {args.latency_ms}, "
              f"{args.connections} connections; bound {bound:.1f}s (one permission read per "
              f"mailbox); efficiency {efficiency:.2f} (target >= 0.85)")
        ok = ok and efficiency >= 0.85
    if naive_found is not None:
        listed_s, sample_s, mailboxes, found = naive_found
        sampled = len(found)
        naive_s = listed_s + sample_s * mailboxes / max(1, sampled)
        by_mailbox: dict[str, set[Any]] = {}
        for row in audit.report["rows"]:
            if row["source"] != "sendonbehalf":
                by_mailbox.setdefault(row["mailbox"], set()).add((row["trustee"], row["right"]))
        agree = all(by_mailbox.get(m, set()) == grants for m, grants in found.items())
        speedup = naive_s / audit.wall
        print(f"naive: Get-Mailbox listing {listed_s:.1f}s + one pipeline per mailbox "
              f"{sample_s:.1f}s for a sample of {sampled} mailboxes, scaled to {mailboxes}: "
              f"{naive_s:.1f}s; speed-up {speedup:.1f}x (target >= 10x); same grants on the "
              f"sampled mailboxes: {agree}")
        ok = ok and speedup >= 10 and agree
    print(f"load after: {os.getloadavg()[0]:.2f}; {'all targets met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
