#!/usr/bin/env python3
"""The bulk runner against a sandbox with WAN latency and slow cmdlets, three ways.

A 1,800-row job whose template calls exactly one emulated cmdlet per row, against
``psbridge sandbox serve --latency-ms 20 --cmdlet-ms 30`` (a separate process):

1. naive: one pipeline per row, one at a time, as a hand-written loop of remote calls
   would do it (measured on the first 150 rows and scaled to 900);
2. the runner with one runspace;
3. the runner with 3 runspaces.

It prints each time, the speed-up over naive, and the runner's efficiency =
(rows x cmdlet time / runspaces) / elapsed, both for the job's own time and for the CLI's
wall time (start-up and sign-in included). Targets with 3 runspaces: efficiency >= 0.92
(wall time) and speed-up >= 4x. The machine's load is printed with the figures: on a
shared machine, run it more than once. Then it streams a 100,000-row CSV through
validation and the journal (the host replaced by an instant stand-in, so only psbridge's
own memory is measured) and prints the peak RSS. Target: under 200 MB. Exit status 1 when
a target is missed.

    python scripts/bench_runner.py [--rows 1800]
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

from toolkit.sandbox.process import spawn_sandbox

ROOT = Path(__file__).resolve().parents[1]
LATENCY_MS = 20
CMDLET_MS = 30
NAIVE_ROWS = 150


def bulk_seed(path: Path, mailboxes: int) -> None:
    from toolkit.sandbox.tenant import demo

    path.write_text(json.dumps(demo.with_bulk_mailboxes(demo.demo_seed(), mailboxes)))


def run_job(env: dict[str, str], csv_path: Path, concurrency: int) -> tuple[float, float]:
    """(the job's own elapsed time as psbridge reports it, the CLI's wall time)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "toolkit", "--output", "json", "--profile", "bench", "task",
         "run", "bench/set-note", "--csv", str(csv_path), "--concurrency", str(concurrency),
         "--chunk-size", "50"],
        env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    return json.loads(result.stdout)[0]["seconds"], wall


def naive(env: dict[str, str], rows: int) -> float:
    """One pipeline per row, one at a time, on a runspace connected once."""
    os.environ.update(env)
    from toolkit.core.config import resolve_profile
    from toolkit.core.session import Step
    from toolkit.core.target import open_target
    from toolkit.core.templates import TemplateCatalog

    catalog = TemplateCatalog()
    with open_target(resolve_profile("bench")) as target, target.open_connection() as conn:
        target.connect(conn, ["exchange"], catalog)
        started = time.perf_counter()
        for i in range(rows):
            result = conn.run([Step("param($Identity, $Note) Set-Mailbox -Identity $Identity "
                                    "-CustomAttribute2 $Note",
                                    {"Identity": f"bulk{i:04d}@contoso.com",
                                     "Note": f"naive{i}"})])
            assert not result.errors, result.errors
        return time.perf_counter() - started


MEMORY_PROBE = """
import resource, sys, time
from pathlib import Path
from toolkit.core.journal import Journal
from toolkit.core.runner import Runner, RunnerSettings, WorkRow
from toolkit.core.pipeline_results import PipelineResult
from toolkit.core.session import Step
from toolkit.io.csvfile import Column, CsvFile

class Instant:
    # A host that answers at once: a pipeline's result is ready when it is sent.
    closed = False
    services = {}
    def begin(self, steps):
        rows = steps[-1].parameters["Rows"]
        return Answer(self, PipelineResult(
            [{"Row": r["_row"], "Status": "changed"} for r in rows], [], [], [], [], False, 0.0))
    def holds(self, service):
        return True
    def close(self):
        pass

class Answer:
    def __init__(self, connection, result):
        self.connection, self._result = connection, result
    def result(self, on_poll=None):
        return self._result

source = CsvFile(sys.argv[1], [Column("Mailbox"), Column("Value")])
started = time.perf_counter()
total = source.validate()
journal = Journal(Path(sys.argv[2]))
job = journal.start_job(task="bench", profile="none")
runner = Runner(open_connection=Instant, make_steps=lambda rows, c: [Step("x", {"Rows": rows})],
                journal_path=journal.path, job_id=job.id,
                settings=RunnerSettings(concurrency=3, chunk_size=100))
summary = runner.run(WorkRow(r.line, r["Mailbox"], r.values) for r in source.rows())
elapsed = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{total} {summary.counts['changed']} {elapsed:.1f} {peak_mb:.0f}")
"""


def memory(home: Path) -> tuple[int, int, float, float]:
    big = home / "big.csv"
    with open(big, "w") as handle:
        handle.write("Mailbox,Value\n")
        for i in range(100_000):
            handle.write(f"user{i:06d}@contoso.com,value-{i}-{'x' * 40}\n")
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(big), str(home / "j.db")],
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1]), float(out[2]), float(out[3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1800)
    args = parser.parse_args()
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    ok = True
    with tempfile.TemporaryDirectory(prefix="psbridge-bench-") as tmp:
        home = Path(tmp)
        env = {**os.environ, "PSBRIDGE_CONFIG": str(home / "config.toml"),
               "PSBRIDGE_DATA": str(home / "data"),
               "PSBRIDGE_TEMPLATES": str(ROOT / "scripts" / "bench_templates"),
               # The CLI as installed: with its bytecode cached (pip compiles it), not
               # compiled again at every start where PYTHONDONTWRITEBYTECODE is set.
               "PYTHONPYCACHEPREFIX": str(home / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        seed = home / "seed.json"
        bulk_seed(seed, args.rows)
        csv_path = home / "rows.csv"
        csv_path.write_text("Mailbox,Note\n" + "".join(
            f"bulk{i:04d}@contoso.com,note{i}\n" for i in range(args.rows)))
        with spawn_sandbox(["--port", "0", "--https", "--seed", str(seed),
                            "--latency-ms", str(LATENCY_MS), "--cmdlet-ms", str(CMDLET_MS),
                            "--write-profile", "bench"], env):
            naive_150 = naive(env, NAIVE_ROWS)
            naive_all = naive_150 * args.rows / NAIVE_ROWS
            one = run_job(env, csv_path, 1)
            three = run_job(env, csv_path, 3)
        ideal = args.rows * CMDLET_MS / 1000
        print(f"sandbox: --latency-ms {LATENCY_MS} --cmdlet-ms {CMDLET_MS}; {args.rows} rows, "
              "one Set-Mailbox per row; times are the job's own (CLI start-up and sign-in "
              "excluded, as for naive), CLI wall time in brackets")
        print(f"naive (one pipeline per row): {naive_150:.1f}s for {NAIVE_ROWS} rows -> "
              f"{naive_all:.1f}s for {args.rows}")
        for label, (elapsed, wall), runspaces in (("runner, 1 runspace", one, 1),
                                                   ("runner, 3 runspaces", three, 3)):
            print(f"{label}: {elapsed:.2f}s [{wall:.2f}s], speed-up "
                  f"{naive_all / elapsed:.1f}x, efficiency {ideal / runspaces / elapsed:.2f} "
                  f"[{ideal / runspaces / wall:.3f} with start-up and sign-in]")
        efficiency3 = ideal / 3 / three[1]
        speedup3 = naive_all / three[0]
        print(f"targets with 3 runspaces: efficiency {efficiency3:.3f} with start-up and "
              f"sign-in (>= 0.92), speed-up {speedup3:.1f}x (>= 4x); load now "
              f"{os.getloadavg()[0]:.2f}")
        ok = efficiency3 >= 0.92 and speedup3 >= 4
        rows, done, seconds, peak = memory(home)
        print(f"100,000-row CSV: {rows} rows validated, {done} journaled in {seconds:.1f}s, "
              f"peak RSS {peak:.0f} MB (target < 200 MB)")
        ok = ok and peak < 200
    print(f"self peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
