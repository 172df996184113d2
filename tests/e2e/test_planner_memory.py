"""The permissions planner's memory does not grow with the file (issue 19, item 9).

``scripts/bench_csv_memory.py`` holds the full-size target (a 200 MB CSV under 300 MB
RSS); this is its scaled-down guard: the same kind of file at 1 MB and at 10 MB, each
planned (``perms apply --dry-run`` through the API, on the embedded sandbox) in its own
process, which reports how much its peak RSS grew while planning. A planner that keeps
every row grows about ten times as much for the ten-times file; one that streams grows
about as much for both. A ratio, measured in the same test: no figure depends on the
machine's speed or load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from e2e_cli import Cli

from toolkit.sandbox.tenant import demo

RIGHTS = ("FullAccess", "SendAs", "SendOnBehalf")
# Grows by RSS pages; the fixed part (templates, the sandbox client, the tenant read) is
# the same for both files.
MAX_GROWTH_RATIO = 1.5
CHILD = """
import resource, sys
from pathlib import Path
from toolkit import Workspace
with Workspace() as ws:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    request = ws.perms.plan_apply(Path(sys.argv[1]), dry_run=True)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(grown, len(request.plan.changes))
"""


def permissions_csv(path: Path, megabytes: float) -> Path:
    """Rows over the demo tenant's own mailboxes: every one valid, most repeating an
    earlier one (a real file's size comes from its rows, not from a tenant that large)."""
    contoso = next(t for t in demo.demo_seed()["tenants"] if t["name"] == demo.CONTOSO)
    boxes = [u["upn"] for u in contoso["users"] if u.get("mailbox")]
    with path.open("w", encoding="utf-8") as handle:
        handle.write("Mailbox,Trustee,Right\n")
        row = 0
        while handle.tell() < megabytes * 1_000_000:
            handle.writelines(f"{boxes[n % len(boxes)]},{boxes[n // len(boxes) % len(boxes)]},"
                              f"{RIGHTS[n % 3]}\n" for n in range(row, row + 1000))
            row += 1000
    return path


def planning_growth(cli: Cli, source: Path) -> tuple[int, int]:
    """(KiB the planning process's peak RSS grew by, changes planned)."""
    result = subprocess.run([sys.executable, "-c", CHILD, str(source)], capture_output=True,
                            text=True, env=cli.env, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    grown, changes = result.stdout.split()
    return int(grown), int(changes)


@pytest.mark.slow
def test_planning_a_ten_times_larger_file_takes_no_more_memory(
        cli: Cli, tmp_path: Path) -> None:
    small, small_changes = planning_growth(cli, permissions_csv(tmp_path / "1mb.csv", 1))
    large, large_changes = planning_growth(cli, permissions_csv(tmp_path / "10mb.csv", 10))
    assert small_changes == large_changes  # the same grants, only repeated more often
    assert large <= small * MAX_GROWTH_RATIO, (
        f"planning grew peak RSS by {small // 1024} MB for 1 MB, {large // 1024} MB for 10 MB")
