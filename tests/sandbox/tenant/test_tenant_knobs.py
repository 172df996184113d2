"""Throttling, service time, the command log, and the spec fidelity of the adapters."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tenant_helpers import ok

from toolkit.sandbox.interface import SessionContext
from toolkit.sandbox.pwsh.engine import Engine, run_script
from toolkit.sandbox.pwsh.runspace import PwshRunspace
from toolkit.sandbox.pwsh.spec import cmdlet_specs
from toolkit.sandbox.tenant import cmdlets_exchange, cmdlets_graph
from toolkit.sandbox.tenant.cmdlet_support import IGNORED_PARAMETERS, TenantServices
from toolkit.sandbox.tenant.demo import demo_imap_csv
from toolkit.sandbox.tenant.registration import tenant_registry
from toolkit.sandbox.tenant.store import TenantStore


def _runspace(services: TenantServices) -> PwshRunspace:
    runspace = Engine(tenant_registry(services)).open_runspace(SessionContext("admin", "admin"))
    ok(run_script(runspace, "Connect-ExchangeOnline -ShowBanner:$false; "
                            "Connect-MgGraph -NoWelcome"))
    return runspace


def test_throttling_fails_like_the_services(store: TenantStore) -> None:
    runspace = _runspace(TenantServices(store, throttle_rate=1.0, random_seed=1))
    exchange = run_script(runspace, "Get-Mailbox sales")
    assert exchange.errors[0].fully_qualified_error_id.endswith("],Write-ErrorMessage")
    assert "exceeds the throttling budget" in exchange.errors[0].message
    graph = run_script(runspace, "Get-MgUser -UserId lee.gu@contoso.com")
    # Every one of the SDK's own retries was throttled too: it gives up.
    assert graph.errors[0].message == "Too many retries performed"
    assert graph.errors[0].category == "InvalidOperation"


def test_the_graph_sdk_rescues_most_throttled_calls(store: TenantStore) -> None:
    runspace = _runspace(TenantServices(store, throttle_rate=0.3, random_seed=7))
    failed = [bool(run_script(runspace, "Get-MgUser -UserId lee.gu@contoso.com").errors)
              for _ in range(40)]
    exchange = [bool(run_script(runspace, "Get-Mailbox sales").errors) for _ in range(40)]
    assert sum(failed) < sum(exchange)


def test_throttling_is_repeatable_with_a_seed(store: TenantStore) -> None:
    def pattern() -> list[bool]:
        runspace = _runspace(TenantServices(store, throttle_rate=0.5, random_seed=42))
        return [bool(run_script(runspace, "Get-Mailbox sales").errors)
                for _ in range(12)]

    first = pattern()
    assert first == pattern() and any(first) and not all(first)


def test_cmdlet_ms_delays_each_call(store: TenantStore) -> None:
    runspace = _runspace(TenantServices(store, cmdlet_ms=50))
    started = time.perf_counter()
    ok(run_script(runspace, "Get-Mailbox sales; Get-Mailbox info"))
    assert time.perf_counter() - started >= 0.1


def test_the_emulators_own_time_counts_toward_cmdlet_ms_and_the_clients_does_not(
        store: TenantStore) -> None:
    """A real host runs a script's lines in a fraction of a millisecond: the emulator's time
    for them (its work, the previous call's output, its runspaces waiting for one another)
    is taken from the next call's service time, never added to it, so a 50 ms service
    costs a client 50 ms a call on this emulator too. Time the pipeline waits on the client
    is no service time: a slow client stays slow."""
    from toolkit.sandbox import interface
    from toolkit.sandbox.tenant import cmdlet_support

    now = [0.0]
    waits: list[float] = []

    class Stop:
        def wait(self, seconds: float) -> None:
            waits.append(round(seconds, 3))
            now[0] += seconds + 0.003  # each wait oversleeps by 3 ms

    def call(work: float) -> None:
        now[0] += work
        cmdlet_support._service_delay(services, ctx)  # type: ignore[arg-type]

    services = TenantServices(store, cmdlet_ms=50)
    ctx = SimpleNamespace(state={}, stop=Stop())
    clock = interface.start_pipeline_clock(lambda: now[0])
    call(0.004)  # the pipeline's own work before its first call
    call(0.002)  # counted from when the first call was due: its 3 ms of oversleep too
    with clock.waiting_on_client():
        now[0] += 0.2  # the client takes its output late
    call(0.001)
    call(0.080)  # work longer than the service time costs no extra wait
    interface.start_pipeline_clock(lambda: now[0])
    call(0.010)  # a new pipeline: counted from its start
    assert waits == [0.046, 0.045, 0.046, 0.0, 0.04]


def test_cmdlets_that_read_the_modules_own_session_take_no_service_time(
        store: TenantStore, monkeypatch: Any) -> None:
    """Get-ConnectionInformation and Get-MgContext answer from the module's session in the
    PowerShell instance: no service call, so no --cmdlet-ms. Every guarded connect runs them.

    Evidence: learn.microsoft.com/powershell/module/exchange/get-connectioninformation
    ("information about all REST-based connections in the current PowerShell instance with
    Exchange Online") and learn.microsoft.com/powershell/module/
    microsoft.graph.authentication/get-mgcontext ("Gets details about the current
    session"). No source gives their timing; read from a session object, none is assumed."""
    from toolkit.sandbox.tenant import cmdlet_support

    runspace = _runspace(TenantServices(store, cmdlet_ms=1))
    served: list[str] = []
    monkeypatch.setattr(cmdlet_support, "_service_delay",
                        lambda services, ctx: served.append(ctx.cmdlet_name))
    ok(run_script(runspace, "Get-ConnectionInformation; Get-MgContext; Get-Mailbox sales; "
                            "Get-MgUser -UserId lee.gu@contoso.com"))
    assert served == ["Get-Mailbox", "Get-MgUser"]


def test_command_log_masks_secrets(store: TenantStore, tmp_path: Path) -> None:
    log = tmp_path / "commands.jsonl"
    runspace = _runspace(TenantServices(store, command_log=log))
    ok(run_script(runspace, "New-MigrationEndpoint -IMAP -Name G -RemoteServer "
                            "imap.gmail.com -Port 993 -Security Ssl"))
    ok(run_script(runspace, "param($csv) New-MigrationBatch -Name B -SourceEndpoint G "
                            "-CSVData $csv", {"csv": demo_imap_csv()}))
    ok(run_script(runspace, "Update-MgUser -UserId lee.gu@contoso.com -PasswordProfile "
                            "@{Password='Secret-Pass-99'; ForceChangePasswordNextSignIn=$true}"))
    run_script(runspace, "Get-Mailbox ghost")
    text = log.read_text()
    assert "Secret-Pass-99" not in text and "app-pw" not in text and "lynne-old" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    batch = next(line for line in lines if line["cmdlet"] == "New-MigrationBatch")
    # Whose rows the CSV data carries, never its other columns (user names, passwords).
    assert batch["parameters"]["CSVData"] == {
        "EmailAddress": ["adele.vance@contoso.com", "alex.wilber@contoso.com",
                         "lynne.robbins@contoso.com"], "other columns": "********"}
    assert batch["ok"] is True
    assert batch["tenant"] == "contoso.onmicrosoft.com" and batch["account"] == "admin"
    failed = lines[-1]
    assert failed["cmdlet"] == "Get-Mailbox" and failed["ok"] is False
    assert failed["error"] == "ManagementObjectNotFoundException"


def _parameters_used(module: object) -> dict[str, set[str]]:
    """Per adapter function: parameter names it reads or declares supported."""
    tree = ast.parse(Path(str(module.__file__)).read_text())  # type: ignore[attr-defined]
    used: dict[str, set[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        names: set[str] = set()
        for inner in ast.walk(node):
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
                target = inner.func.value
                reads = (inner.func.attr in ("text", "has", "strings")
                         and isinstance(target, ast.Name) and target.id == "call") or (
                    inner.func.attr == "get" and isinstance(target, ast.Attribute)
                    and target.attr == "params")
                if reads and inner.args and isinstance(inner.args[0], ast.Constant) and \
                        isinstance(inner.args[0].value, str):
                    names.add(inner.args[0].value)
                if inner.func.attr == "reject_unsupported" and inner.args and isinstance(
                        inner.args[0], ast.Set):
                    names |= {e.value for e in inner.args[0].elts
                              if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        used[node.name] = names
    return used


def test_adapters_only_use_parameters_from_the_spec() -> None:
    """Fidelity: every parameter an adapter reads or accepts exists in cmdlets.json for a
    cmdlet it serves (one adapter may serve Get-X and Get-EXOX), and for Exchange cmdlets
    applies to Exchange Online. The binder keeps every other parameter out."""
    specs = cmdlet_specs()
    problems: list[str] = []
    for module, table_function in ((cmdlets_exchange, "register_exchange"),
                                   (cmdlets_graph, "register_graph")):
        used = _parameters_used(module)
        source = ast.parse(Path(str(module.__file__)).read_text())
        register = next(n for n in source.body if isinstance(n, ast.FunctionDef)
                        and n.name == table_function)
        served: dict[str, list[str]] = {}
        for entry in ast.walk(register):
            if (isinstance(entry, ast.Tuple) and entry.elts
                    and isinstance(entry.elts[0], ast.Constant)
                    and isinstance(entry.elts[1], ast.Name)):
                served.setdefault(entry.elts[1].id, []).append(str(entry.elts[0].value))
        assert served, table_function
        for function, cmdlets in served.items():
            for name in used.get(function, set()) - set(IGNORED_PARAMETERS):
                found = [specs[c]["parameters"][name] for c in cmdlets
                         if name in specs[c]["parameters"]]
                if not found:
                    problems.append(f"{cmdlets} -{name}: not in the spec")
                elif all(p.get("applicable") and "Exchange Online" not in p["applicable"]
                         for p in found):
                    problems.append(f"{cmdlets} -{name}: not applicable to Exchange Online")
    assert not problems, problems
