#!/usr/bin/env python3
"""Peak memory of CSV validation on big and hostile files.

Writes two files to a temporary folder and validates each in a fresh process (the reader
every bulk command uses, ``toolkit.io.csvfile.CsvFile.check`` with the permissions
columns), reporting that process's peak RSS:

1. a valid permissions CSV of ``--valid-mb`` megabytes (default 200);
2. a file of ``--hostile-mb`` megabytes (default 1024) without a single newline.

Target: each under 300 MB peak RSS, and the hostile file refused with its line number.
Exit status 1 when a target is missed.

    python scripts/bench_csv_memory.py [--valid-mb 200] [--hostile-mb 1024]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MB = 300
CHILD = """
import sys
from toolkit.io.csvfile import CsvInvalid
from toolkit.tasks.permissions.rows import PermissionCsv
try:
    problems, rows = PermissionCsv(__import__("pathlib").Path(sys.argv[1])).source.check()
    print(f"{rows} row(s), {len(problems)} problem(s)")
except CsvInvalid as refused:
    print(f"refused: {refused.problems[0]}")
"""


def write_valid(path: Path, megabytes: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("Mailbox,Trustee,Right\n")
        i = 0
        while handle.tell() < megabytes * 1_000_000:
            handle.writelines(f"user{i + k:07d}@contoso.com,helpdesk{(i + k) % 977:04d}"
                              f"@contoso.com,FullAccess\n" for k in range(10_000))
            i += 10_000


def write_hostile(path: Path, megabytes: int) -> None:
    block = b"A" * 1_000_000
    with path.open("wb") as handle:
        handle.write(b"Mailbox,Trustee,Right\n")
        for _ in range(megabytes):
            handle.write(block)


def validate(path: Path) -> tuple[str, float, float]:
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                            text=True, check=False)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if result.returncode:
        raise SystemExit(result.stderr)
    # ru_maxrss of the children is the largest child so far: run the biggest file last.
    return result.stdout.strip(), max(peak, before) / 1024, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--valid-mb", type=int, default=200)
    parser.add_argument("--hostile-mb", type=int, default=1024)
    args = parser.parse_args()
    missed = False
    with tempfile.TemporaryDirectory(prefix="psbridge-csv-") as folder:
        for name, writer, size in (("valid", write_valid, args.valid_mb),
                                   ("no newline", write_hostile, args.hostile_mb)):
            path = Path(folder) / f"{name.replace(' ', '-')}.csv"
            writer(path, size)
            answer, peak_mb, seconds = validate(path)
            path.unlink()
            print(f"{name:>10}: {size} MB file, peak RSS {peak_mb:.0f} MB, {seconds:.1f}s: "
                  f"{answer}")
            missed |= peak_mb >= TARGET_MB
    print(f"target: peak RSS < {TARGET_MB} MB: {'missed' if missed else 'met'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
