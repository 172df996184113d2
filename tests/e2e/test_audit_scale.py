"""The whole-tenant audit grows linearly with the tenant (issue 17, item 6).

Cost is CPU time (user + system) of the audit CLI and of the sandbox serving it, measured
in the same run for three tenants: 10 mailboxes (the fixed cost: start-up, sign-in, the
report), 1,000 and 4,000. The cost per mailbox at 4,000 must stay within 1.5x the cost at
1,000: something quadratic (the sandbox scanning every user on each cmdlet call was one)
makes it grow with the tenant. CPU time, unlike wall time, does not stretch when the
machine is busy with other work, and only ratios within one run are compared.
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

import pytest
from e2e_cli import Cli, serve_sandbox

from toolkit.sandbox.tenant import demo

TENANT = "bench.onmicrosoft.com"
TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """CPU seconds a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _audit_cpu(cli: Cli, home: Path, mailboxes: int) -> float:
    """CPU seconds of ``perms audit --all`` on a tenant of ``mailboxes`` mailboxes with four
    grants each: the CLI's plus what the sandbox spent serving it."""
    seed = demo.large_seed(mailboxes, mailboxes * 4)
    seed["apps"] = [{"client_id": demo.DEMO_APP_ID, "client_secret": demo.DEMO_APP_SECRET,
                     "display_name": "psbridge scale test", "tenants": [TENANT],
                     "roles": ["Exchange.ManageAsApp"]}]
    path = home / f"seed-{mailboxes}.json"
    path.write_text(json.dumps(seed))
    profile = f"scale{mailboxes}"
    sandbox = serve_sandbox(cli, home, seed=str(path), profile=profile)
    try:
        served, ran = _process_cpu(sandbox.process.pid), _children_cpu()
        cli("--profile", profile, "perms", "audit", "--all", "--out",
            str(home / f"audit-{mailboxes}.json"), check=0, timeout=900)
        cost = _children_cpu() - ran + _process_cpu(sandbox.process.pid) - served
    finally:
        sandbox.process.terminate()
        sandbox.process.wait(timeout=60)
    report = json.loads((home / f"audit-{mailboxes}.json").read_text())
    assert report["summary"]["snapshot"]["mailboxes"] == mailboxes
    return cost


@pytest.mark.slow
def test_audit_cost_per_mailbox_stays_flat_from_1000_to_4000(
        cli: Cli, isolated_home: Path) -> None:
    fixed = _audit_cpu(cli, isolated_home, 10)
    small = (_audit_cpu(cli, isolated_home, 1000) - fixed) / 990
    large = (_audit_cpu(cli, isolated_home, 4000) - fixed) / 3990
    ratio = large / small
    print(f"audit CPU per mailbox: {small * 1000:.2f} ms at 1,000, {large * 1000:.2f} ms at "
          f"4,000 (x{ratio:.2f}); fixed cost {fixed:.2f} s")
    assert ratio <= 1.5, f"cost per mailbox grew x{ratio:.2f} from 1,000 to 4,000 mailboxes"
