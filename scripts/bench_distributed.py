#!/usr/bin/env python3
"""An all-tenants permission audit on Celery workers: 1 worker vs 3 workers.

Serves a sandbox of ``--tenants`` customer tenants of ``--mailboxes`` mailboxes each
(``toolkit.sandbox.tenant.demo.msp_seed``) with ``--cmdlet-ms`` per emulated cmdlet (the
service's own latency), in a process of its own; the job store is a fresh PostgreSQL
database and the broker a Redis database, both flushed/dropped at the end. Then:

1. ``psbridge perms audit --all --all-tenants --distributed`` with 1 worker, then with 3
   workers (each ``psbridge worker --concurrency 1``: one tenant audit at a time, each
   audit reading with the profile's 3 connections); the CLI's wall time, start-up included;
2. the overhead the store and the broker add to a chunk: the round trip of a chunk task
   that does no work (send, a worker takes it, reads the job from the store, answers)
   plus writing one chunk's worth of snapshot rows to the store, against the mean time
   of an audit chunk in run 1 (its wall time x 3 connections / chunks).

Targets: 3 workers >= 2.5x faster than 1; overhead < 5% of a chunk. Exit 1 when missed.
The machine's load (``os.getloadavg``) is printed: on a shared or small machine the
sandbox (one Python process serving every connection) is the bottleneck, not psbridge.

    python scripts/bench_distributed.py [--tenants 12] [--mailboxes 1000] [--cmdlet-ms 20]
        [--chunk-size 250] [--store postgresql://postgres@127.0.0.1/test]
        [--broker redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from toolkit.sandbox.process import spawn_sandbox


def start_worker(env: dict[str, str], name: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen([sys.executable, "-m", "toolkit", "-v", "worker",
                               "--concurrency", "1", "--name", f"{name}@bench"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()

    def pump() -> None:
        assert worker.stdout is not None
        for line in worker.stdout:
            if " ready." in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    while not ready.wait(0.2):
        if worker.poll() is not None:
            raise SystemExit(f"worker {name} did not start")
    return worker


def audit(env: dict[str, str], workers: int, chunk_size: int) -> float:
    started = [start_worker(env, f"w{n}") for n in range(workers)]
    try:
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "toolkit", "--profile", "bench", "perms",
                               "audit", "--all", "--all-tenants", "--distributed",
                               "--chunk-size", str(chunk_size)], env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"the audit failed (exit {done.returncode}):\n{done.stderr}")
        return wall
    finally:
        for worker in started:
            worker.terminate()
            worker.wait(timeout=60)


def overhead(env: dict[str, str], chunk_size: int, samples: int = 20) -> tuple[float, float]:
    """(mean seconds of an empty chunk task's round trip, of one chunk's snapshot write)."""
    os.environ.update(env)
    from toolkit.core.journal import Journal
    from toolkit.distributed.app import CHUNK_TASK, celery_app
    from toolkit.tasks.permissions.snapshots import Grant, SnapshotStore

    with Journal() as journal:
        job = journal.start_job(task="bench", profile="bench")
        journal.finish_job(job.id, "completed")  # a chunk of it does nothing
    app = celery_app()
    worker = start_worker(env, "overhead")
    trips = []
    try:
        for _ in range(samples):
            began = time.perf_counter()
            app.send_task(CHUNK_TASK, args=[{"job": job.id, "rows": []}]).get(timeout=60)
            trips.append(time.perf_counter() - began)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    writes = []
    with SnapshotStore() as store:
        for n in range(samples):
            snapshot = store.begin(tenant=f"bench-{n}", tenant_id=f"bench-{n}", profile="bench",
                                   scope="all",
                                   noise_kept=False)
            mailboxes = [f"user{i:05d}@bench.example" for i in range(chunk_size)]
            grants = [Grant(m, mailboxes[(i + 1) % chunk_size], "FullAccess")
                      for i, m in enumerate(mailboxes)] * 4
            began = time.perf_counter()
            store.add_chunk(snapshot, mailboxes, grants, {"self": chunk_size}, [])
            writes.append(time.perf_counter() - began)
    return statistics.mean(trips), statistics.mean(writes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=12)
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument("--grants", type=int, default=2000, help="per tenant")
    parser.add_argument("--cmdlet-ms", type=int, default=20)
    parser.add_argument("--chunk-size", type=int, default=250)
    parser.add_argument("--store", default=os.environ.get(
        "PSBRIDGE_TEST_STORE", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()

    import psycopg
    import redis

    from toolkit.sandbox.tenant import demo

    database = f"psbridge_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(args.store, autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    store = urlunsplit(urlsplit(args.store)._replace(path="/" + database))
    queue = redis.Redis.from_url(args.broker)
    queue.flushdb()
    try:
        with tempfile.TemporaryDirectory(prefix="psbridge-bench-") as tmp:
            home = Path(tmp)
            config = home / "config.toml"
            config.write_text(f'[store]\nurl = "{store}"\n\n[queue]\nbroker = "{args.broker}"\n')
            env = {**os.environ, "PSBRIDGE_CONFIG": str(config),
                   "PSBRIDGE_DATA": str(home / "data")}
            seed = home / "seed.json"
            seed.write_text(json.dumps(demo.msp_seed(args.tenants, args.mailboxes,
                                                     args.grants)))
            subprocess.run([sys.executable, "-m", "toolkit", "store", "migrate"], env=env,
                           check=True, capture_output=True)
            with spawn_sandbox(["--port", "0", "--https", "--seed", str(seed),
                                "--cmdlet-ms", str(args.cmdlet_ms),
                                "--write-profile", "bench"], env):
                import tomlkit

                document = tomlkit.parse(config.read_text())
                document["profiles"]["bench"]["tenants"] = [
                    f"customer{n:02d}.onmicrosoft.com" for n in range(1, args.tenants)]
                config.write_text(tomlkit.dumps(document))
                load_before = os.getloadavg()
                one = audit(env, 1, args.chunk_size)
                three = audit(env, 3, args.chunk_size)
                load_after = os.getloadavg()
            trip, write = overhead(env, args.chunk_size)
    finally:
        queue.flushdb()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
    chunks = args.tenants * -(-args.mailboxes // args.chunk_size)
    chunk_s = one * 3 / chunks
    share = (trip + write) / chunk_s
    speedup = one / three
    print(f"{args.tenants} tenants x {args.mailboxes} mailboxes, {args.cmdlet_ms} ms per "
          f"cmdlet, chunks of {args.chunk_size}; cores {os.cpu_count()}, load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"1 worker: {one:.1f}s; 3 workers: {three:.1f}s; speed-up {speedup:.2f}x "
          "(target >= 2.5x)")
    print(f"per chunk: {chunk_s:.2f}s of audit; store and broker overhead {trip * 1000:.0f} ms "
          f"task round trip + {write * 1000:.0f} ms snapshot write = {share:.1%} "
          "(target < 5%)")
    return 0 if speedup >= 2.5 and share < 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
