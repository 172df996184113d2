#!/usr/bin/env python3
"""One ``migrate imap status --watch`` poll of a large IMAP migration batch.

Serves a tenant of ``--users`` mailboxes whose IMAP accounts sit on one emulated server,
with ``--cmdlet-ms`` of service time per cmdlet call and its migration clock sped up
(``--migration-speed``, separate process), starts one batch
of every user with ``psbridge migrate imap start --batch-size USERS``, then measures the
watch's polls as ``migrate imap status --watch`` makes them (the same ``fetch_batches`` on one
open connection): the first poll, then ``--polls`` more, ``--interval`` seconds apart,
while the users move through their states.

Each poll is one Get-MigrationBatch and one Get-MigrationUser for the whole batch (states
and item counts of every user), plus Get-MigrationUserStatistics only for the users whose
state changed since the previous poll (or who failed). Printed: each poll's time and how
many statistics it read, against what one read per user per poll would cost
(users x cmdlet time). Target: every poll under 2 s at 5,000 users with --cmdlet-ms 20.
Exit status 1 when the target is missed. The machine's load is printed with the figures.

    python scripts/bench_watch.py [--users 5000] [--cmdlet-ms 20] [--polls 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.sandbox.process import spawn_sandbox

if TYPE_CHECKING:
    from toolkit.tasks.migration.status import BatchState

TENANT = "bench.onmicrosoft.com"
IMAP_HOST = "imap.bench.example"
TARGET_S = 2.0


def write_seed(path: Path, users: int) -> None:
    from toolkit.sandbox.tenant import demo

    seed = demo.large_seed(users, 0)
    tenant = seed["tenants"][0]
    tenant["imap_sources"] = [{"host": IMAP_HOST, "port": 993, "security": "ssl",
                               "accounts": [{"user": f"imap{i:05d}", "password": f"pw-{i}",
                                             "items": 200} for i in range(users)]}]
    seed["apps"] = [{"client_id": demo.DEMO_APP_ID, "client_secret": demo.DEMO_APP_SECRET,
                     "display_name": "psbridge bench", "tenants": [TENANT],
                     "roles": ["Exchange.ManageAsApp"]}]
    path.write_text(json.dumps(seed))


def polls(env: dict[str, str], count: int, interval: float) -> list[tuple[float, int]]:
    """(seconds, statistics read) of the first poll and ``count`` more."""
    os.environ.update(env)
    from toolkit.core.config import resolve_profile
    from toolkit.core.target import open_target
    from toolkit.core.templates import TemplateCatalog
    from toolkit.tasks.migration.reads import fetch_batches
    from toolkit.tasks.migration.status import to_read

    catalog = TemplateCatalog()
    measured: list[tuple[float, int]] = []
    with open_target(resolve_profile("bench")) as target, target.open_connection() as conn:
        batches = None
        for index in range(count + 1):
            if index:
                time.sleep(interval)
            previous: list[BatchState] = batches or []
            started = time.perf_counter()
            batches = fetch_batches(target, catalog, conn, ["bench"], previous)
            seconds = time.perf_counter() - started
            measured.append((seconds, len(to_read(batches, previous))))
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--cmdlet-ms", type=int, default=20)
    parser.add_argument("--polls", type=int, default=3)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--migration-speed", type=float, default=20.0,
                        help="the sandbox's migration clock: users move while watched")
    args = parser.parse_args()
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="psbridge-bench-") as tmp:
        home = Path(tmp)
        env = {**os.environ, "PSBRIDGE_CONFIG": str(home / "config.toml"),
               "PSBRIDGE_DATA": str(home / "data")}
        seed = home / "seed.json"
        write_seed(seed, args.users)
        rows = home / "wave.csv"
        rows.write_text("EmailAddress,UserName,Password\n" + "".join(
            f"user{i:05d}@bench.example,imap{i:05d},pw-{i}\n" for i in range(args.users)))
        with spawn_sandbox(["--port", "0", "--https", "--seed", str(seed),
                            "--cmdlet-ms", str(args.cmdlet_ms), "--migration-speed",
                            str(args.migration_speed), "--write-profile", "bench"],
                           env):
            subprocess.run([sys.executable, "-m", "toolkit", "--profile", "bench", "migrate",
                            "imap", "start", str(rows), "--server", IMAP_HOST, "--batch",
                            "bench", "--batch-size", str(args.users)],
                           env=env, check=True, capture_output=True, timeout=1800)
            measured = polls(env, args.polls, args.interval)
    per_user = args.users * args.cmdlet_ms / 1000
    for index, (seconds, read) in enumerate(measured):
        print(f"poll {index}: {seconds:.2f}s, {read} user statistics read "
              f"(one read per user per poll: at least {per_user:.0f}s of service time)")
    slowest = max(seconds for seconds, _ in measured)
    ok = slowest < TARGET_S
    print(f"{args.users} users, --cmdlet-ms {args.cmdlet_ms}: slowest poll {slowest:.2f}s "
          f"(target < {TARGET_S:.0f}s); load after: {os.getloadavg()[0]:.2f}; "
          f"{'target met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
