#!/usr/bin/env python3
"""How fast ``psbridge --help`` starts, against ``python -c "import click"``.

Both run as fresh processes, interleaved, many times; the medians are compared. Target:
the ratio is at most 2.0 (exit status 1 when it is not).

    python scripts/bench_startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 2.0


def psbridge_command() -> list[str]:
    beside = Path(sys.executable).with_name("psbridge")
    found = str(beside) if beside.exists() else shutil.which("psbridge")
    if not found:
        sys.exit("psbridge is not installed in this environment (pip install -e .)")
    return [found, "--help"]


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    baseline_cmd = [sys.executable, "-c", "import click"]
    psbridge_cmd = psbridge_command()
    for command in (baseline_cmd, psbridge_cmd):  # warm the OS file cache
        wall_time(command)
    baseline, psbridge = [], []
    for _ in range(args.runs):
        baseline.append(wall_time(baseline_cmd))
        psbridge.append(wall_time(psbridge_cmd))
    base_ms = statistics.median(baseline) * 1000
    ours_ms = statistics.median(psbridge) * 1000
    ratio = ours_ms / base_ms
    print(f"python -c 'import click': median {base_ms:.1f} ms over {args.runs} runs")
    print(f"psbridge --help:          median {ours_ms:.1f} ms over {args.runs} runs")
    print(f"ratio: {ratio:.2f} (target <= {TARGET})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
