"""Benchmark the sandbox management host's transport with the real pypsrp client.

Prints pipelines per second and round-trip times for a tiny pipeline, and objects per
second for a pipeline returning 10,000 objects. The backend is a minimal one shipped
here, so the figures measure WSMan/PSRP, authentication and serialization, not the
PowerShell engine; ``--real`` serves the real backend (PowerShell engine and demo
tenant) and runs the same work as scripts. By default the sandbox runs in this process
(as the embedded ``sandbox`` profile does, sharing the GIL with the client);
``--subprocess`` runs it in its own process, as ``psbridge sandbox serve`` does.

    python scripts/bench_sandbox.py [--auth basic|ntlm] [--https] [--subprocess] [--real]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from toolkit.sandbox.interface import OutputSink, PipelineSpec, SessionContext
from toolkit.sandbox.server import RunningSandbox, SandboxOptions, start_sandbox
from toolkit.sandbox.values import PSObject

USERNAME, PASSWORD = "bench", "Bench-P@ss1"
ITEM_TYPES = ["Bench.Item", "System.Object"]
REAL_TINY = "'pong'"
REAL_MANY = (
    "param($Count) 1..$Count | ForEach-Object { [pscustomobject]@{ Index = $_; "
    'Name = "user$_@contoso.com"; Enabled = ($_ % 2 -eq 0) } }'
)


class BenchRunspace:
    """``Get-Tiny`` writes one string; ``Get-Many -Count N`` writes N small objects."""

    def invoke(self, spec: PipelineSpec, sink: OutputSink, stop: threading.Event) -> None:
        command = spec.commands[0]
        if command.text == "Get-Tiny":
            sink.output("pong")
            return
        count = int(dict(command.parameters).get("Count", 10_000))
        for index in range(count):
            sink.output(PSObject({"Index": index, "Name": f"user{index}@contoso.com",
                                  "Enabled": index % 2 == 0}, type_names=ITEM_TYPES))

    def close(self) -> None:
        pass


class BenchBackend:
    def authenticate(self, username: str, password: str) -> SessionContext | None:
        ok = (username, password) == (USERNAME, PASSWORD)
        return SessionContext(account=username, role="admin") if ok else None

    def account_password(self, username: str) -> str | None:
        return PASSWORD if username == USERNAME else None

    def open_runspace(self, context: SessionContext) -> BenchRunspace:
        return BenchRunspace()


def run_pipeline(pool: RunspacePool, command: str, *, script: bool = False,
                 **parameters: Any) -> list[Any]:
    ps = PowerShell(pool)
    if script:
        ps.add_script(command)
    else:
        ps.add_cmdlet(command)
    for name, value in parameters.items():
        ps.add_parameter(name, value)
    output = ps.invoke()
    ps.close()
    return list(output)


def _start(options: SandboxOptions, real: bool) -> RunningSandbox:
    return start_sandbox(options) if real else start_sandbox(options, backend=BenchBackend())


def _serve(options: SandboxOptions, real: bool, channel: Connection) -> None:
    """Child process: serve until the parent says stop."""
    with _start(options, real) as sandbox:
        channel.send((sandbox.url, sandbox.port, sandbox.ca_cert))
        channel.recv()


@contextmanager
def sandbox_at(options: SandboxOptions, subprocess: bool,
               real: bool) -> Iterator[tuple[str, int, Any]]:
    """(url, port, CA file) of a sandbox in this process or in a child process."""
    if not subprocess:
        with _start(options, real) as sandbox:
            yield sandbox.url, sandbox.port, sandbox.ca_cert
        return
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    process = spawn.Process(target=_serve, args=(options, real, child))
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--auth", choices=["basic", "ntlm"], default="ntlm")
    parser.add_argument("--https", action="store_true")
    parser.add_argument("--pipelines", type=int, default=200)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--subprocess", action="store_true",
                        help="run the sandbox in a child process")
    parser.add_argument("--real", action="store_true",
                        help="serve the real backend (PowerShell engine, demo tenant)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tls_dir:
        options = SandboxOptions(username=USERNAME, password=PASSWORD, https=args.https,
                                 tls_dir=Path(tls_dir))
        with sandbox_at(options, args.subprocess, args.real) as (url, port, ca_cert):
            wsman = WSMan(
                "127.0.0.1", port=port, ssl=args.https, auth=args.auth,
                username=USERNAME, password=PASSWORD,
                encryption="never" if args.auth == "basic" else "auto",
                cert_validation=str(ca_cert) if ca_cert else True,  # type: ignore[arg-type]
            )
            transport = f"{args.auth} over {'HTTPS' if args.https else 'HTTP'}"
            if args.auth == "ntlm" and not args.https:
                transport += " with message encryption"
            where = "a child process" if args.subprocess else "this process"
            backend = "real backend" if args.real else "bench backend"
            print(f"sandbox {url} in {where} ({transport}, {backend})")
            tiny: dict[str, Any] = {"command": REAL_TINY, "script": True} if args.real else {
                "command": "Get-Tiny"}
            many: dict[str, Any] = {"command": REAL_MANY, "script": True} if args.real else {
                "command": "Get-Many"}

            started = time.perf_counter()
            with RunspacePool(wsman) as pool:
                print(f"open runspace pool: {(time.perf_counter() - started) * 1000:.1f} ms")
                run_pipeline(pool, **tiny)  # warm-up

                times = []
                began = time.perf_counter()
                for _ in range(args.pipelines):
                    one = time.perf_counter()
                    assert run_pipeline(pool, **tiny) == ["pong"]
                    times.append(time.perf_counter() - one)
                total = time.perf_counter() - began
                times_ms = sorted(t * 1000 for t in times)
                print(f"tiny pipeline: {args.pipelines / total:.1f} pipelines/s, round trip "
                      f"mean {statistics.mean(times_ms):.2f} ms, "
                      f"p50 {times_ms[len(times_ms) // 2]:.2f} ms, "
                      f"p95 {times_ms[int(len(times_ms) * 0.95)]:.2f} ms")

                began = time.perf_counter()
                output = run_pipeline(pool, **many, Count=args.objects)
                elapsed = time.perf_counter() - began
                assert len(output) == args.objects
                print(f"{args.objects} objects: {elapsed:.2f} s, "
                      f"{args.objects / elapsed:.0f} objects/s")


if __name__ == "__main__":
    main()
