#!/usr/bin/env python3
"""The permission audit of a large tenant, compact vs naive.

Serves a sandbox tenant of 5,000 mailboxes and about 20,000 grants
(``toolkit.sandbox.tenant.demo.large_seed`` plus an app registration to sign in with) in a
separate process, then:

1. compact: ``psbridge perms audit --all`` as a user runs it (the CLI's wall time, start-up
   and sign-in included): one listing pipeline, then chunks of 250 mailboxes whose
   permissions are filtered on the host and come back as one JSON string each;
2. naive: what a hand-written script does: ``Get-Mailbox -ResultSize Unlimited`` returning
   full objects (for SendOnBehalf; measured whole), then one pipeline per mailbox with
   ``Get-MailboxPermission`` and ``Get-RecipientPermission`` returning full deserialized
   objects, filtered in Python. The per-mailbox part is measured on a sample of mailboxes
   (``--sample``, default 500) and scaled to the whole tenant; sign-in excluded.

It prints both times, the speed-up and the audit CLI's peak RSS, and checks that both
ways found the same grants on the sampled mailboxes. Targets: speed-up >= 10x, peak RSS
< 300 MB. Exit status 1 when a target is missed.

    python scripts/bench_audit.py [--mailboxes 5000] [--grants 20000] [--sample 500]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
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


def compact(env: dict[str, str], report: Path) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, peak RSS in MB of the audit CLI, the report)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "toolkit", "--profile", "bench", "perms", "audit",
                    "--all", "--out", str(report)], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    # The sandbox is still running (not waited for): the audit CLI is the only child
    # counted so far.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak, json.loads(report.read_text())


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
        conn.run(target.connect_steps(["exchange"], catalog, conn))
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
    parser.add_argument("--grants", type=int, default=20000)
    parser.add_argument("--sample", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="psbridge-bench-") as tmp:
        home = Path(tmp)
        env = {**os.environ, "PSBRIDGE_CONFIG": str(home / "config.toml"),
               "PSBRIDGE_DATA": str(home / "data")}
        seed = home / "seed.json"
        write_seed(seed, args.mailboxes, args.grants)
        with spawn_sandbox(["--port", "0", "--https", "--seed", str(seed),
                            "--write-profile", "bench"], env):
            compact_s, peak_mb, report = compact(env, home / "audit.json")
            listed_s, sample_s, mailboxes, naive_found = naive(env, args.sample)
    sampled = len(naive_found)
    naive_s = listed_s + sample_s * mailboxes / max(1, sampled)
    summary = report["summary"]["snapshot"]
    by_mailbox: dict[str, set[Any]] = {}
    for row in report["rows"]:
        if row["source"] != "sendonbehalf":
            by_mailbox.setdefault(row["mailbox"], set()).add((row["trustee"], row["right"]))
    agree = all(by_mailbox.get(m, set()) == grants for m, grants in naive_found.items())
    speedup = naive_s / compact_s
    print(f"tenant: {mailboxes} mailboxes; the audit found {summary['grants']} grants, "
          f"{summary['orphans']} orphaned SIDs, noise filtered {report['summary']['noise']}")
    print(f"compact (psbridge perms audit --all, CLI wall time incl. start-up and sign-in): "
          f"{compact_s:.1f}s")
    print(f"naive: Get-Mailbox listing {listed_s:.1f}s + one pipeline per mailbox "
          f"{sample_s:.1f}s for a sample of {sampled} mailboxes, scaled to {mailboxes}: "
          f"{naive_s:.1f}s")
    print(f"speed-up {speedup:.1f}x (target >= 10x); audit CLI peak RSS {peak_mb:.0f} MB "
          f"(target < 300 MB); same grants on the sampled mailboxes: {agree}")
    return 0 if speedup >= 10 and peak_mb < 300 and agree else 1


if __name__ == "__main__":
    sys.exit(main())
