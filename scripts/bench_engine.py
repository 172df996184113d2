"""Benchmark the sandbox PowerShell engine.

Prints statements per second for a loop-heavy script (hashtables, string building,
comparisons, method calls, a function call per iteration) and the parse+compile time of
every template in ps_templates/ (the largest last).

    python scripts/bench_engine.py [iterations]
"""

from __future__ import annotations

import sys
import time

from toolkit.sandbox.interface import SessionContext
from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.pwsh.compiler.statements import Compiler
from toolkit.sandbox.pwsh.engine import Engine, run_script
from toolkit.sandbox.pwsh.parser import parse

LOOP = """
param([int]$Count)
function Format-Row {
    param([string]$Name, [int]$Index)
    return "{0}-{1}" -f $Name.ToLower(), $Index
}
$results = New-Object System.Collections.ArrayList
$total = 0
for ($i = 0; $i -lt $Count; $i++) {
    $row = @{ Name = "Mailbox$i"; Size = $i % 7; Shared = ($i % 3 -eq 0) }
    if ($row.Shared -and $row.Name -like 'Mailbox*') {
        $total += $row.Size
    } elseif ($row.Size -gt 3) {
        $total -= 1
    }
    $label = Format-Row -Name $row.Name -Index $i
    [void]$results.Add([pscustomobject]@{ Label = $label; Total = $total })
}
$results.Count
"""


def bench_loop(count: int) -> None:
    engine = Engine(CmdletRegistry())
    runspace = engine.open_runspace(SessionContext(account="bench", role="admin"))
    run_script(runspace, LOOP, {"Count": 10})  # warm the compile cache
    before = runspace.statements_run
    start = time.perf_counter()
    result = run_script(runspace, LOOP, {"Count": count})
    elapsed = time.perf_counter() - start
    statements = runspace.statements_run - before
    assert result.failed is None and result.output == [count], result
    print(
        f"loop script: {count} iterations, {statements} statements in {elapsed:.3f}s "
        f"= {statements / elapsed:,.0f} statements/s ({count / elapsed:,.0f} iterations/s)"
    )


def bench_templates() -> None:
    """Each template as the product renders it (its includes and settings filled in)."""
    from toolkit.core.templates import TemplateCatalog

    catalog = TemplateCatalog()
    timings = []
    for name in catalog.names(include_internal=True):
        text = catalog.render(name).script
        start = time.perf_counter()
        for _ in range(20):
            tree, data = parse(text)
            Compiler(data).program(tree)
        timings.append(((time.perf_counter() - start) / 20, len(text), name))
    for seconds, size, name in sorted(timings, key=lambda t: t[1]):
        print(f"template {name}: {size} chars, parse+compile {seconds * 1000:.2f} ms")
    if timings:
        largest = max(timings, key=lambda t: t[1])
        print(f"largest template ({largest[2]}): {largest[0] * 1000:.2f} ms")


if __name__ == "__main__":
    bench_loop(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
    bench_templates()
