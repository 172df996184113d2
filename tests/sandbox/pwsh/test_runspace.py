"""The engine through toolkit.sandbox.interface: statements, scopes, stop, boundary values."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from toolkit.sandbox.interface import (
    Command,
    PipelineFailed,
    PipelineSpec,
    PipelineStopped,
    SessionContext,
)
from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.pwsh.engine import CollectingSink, Engine, run_script
from toolkit.sandbox.pwsh.runspace import PwshRunspace
from toolkit.sandbox.values import PSObject

SESSION = SessionContext(account="a@x", role="admin")


@pytest.fixture()
def runspace() -> PwshRunspace:
    return Engine(CmdletRegistry()).open_runspace(SESSION)


def invoke(runspace: PwshRunspace, *commands: Command, input: Any = None) -> CollectingSink:
    sink = CollectingSink()
    runspace.invoke(PipelineSpec(list(commands), input), sink, threading.Event())
    return sink


def test_variables_persist_in_the_runspace_unless_local_scope(runspace: PwshRunspace) -> None:
    invoke(runspace, Command("$kept = 41", True))
    invoke(runspace, Command("$gone = 1", True, use_local_scope=True))
    sink = invoke(runspace, Command("$kept + 1; $null -eq $gone", True))
    assert sink.result.output == [42, True]


def test_statements_and_cmdlet_pipelines(runspace: PwshRunspace) -> None:
    sink = invoke(
        runspace,
        Command("Write-Output", False, [(None, "a")], end_of_statement=True),
        Command("Write-Output", False, [("InputObject", [3, 1, 2])]),
        Command("Sort-Object", False, [("Descending", None)]),
    )
    assert sink.result.output == ["a", 3, 2, 1]


def test_pipeline_input_feeds_the_first_command(runspace: PwshRunspace) -> None:
    sink = invoke(runspace, Command("Select-Object", False, [("First", 2)]), input=[5, 6, 7])
    assert sink.result.output == [5, 6]


def test_terminating_error_of_a_cmdlet_pipeline_fails_it(runspace: PwshRunspace) -> None:
    with pytest.raises(PipelineFailed) as failure:
        invoke(runspace, Command("Get-Nothing", False))
    assert failure.value.record.fully_qualified_error_id == "CommandNotFoundException"


def test_stop_ends_a_running_loop(runspace: PwshRunspace) -> None:
    stop = threading.Event()
    sink = CollectingSink()
    spec = PipelineSpec([Command("$i = 0; while ($true) { $i++ }", True)])
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    with pytest.raises(PipelineStopped):  # the loop never ends: returning at all is the stop
        runspace.invoke(spec, sink, stop)


def test_stop_interrupts_start_sleep(runspace: PwshRunspace) -> None:
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(PipelineStopped):
        runspace.invoke(
            PipelineSpec([Command("Start-Sleep -Seconds 30", True)]), CollectingSink(), stop
        )


def test_engine_private_values_leave_as_value_model_types(runspace: PwshRunspace) -> None:
    result = run_script(
        runspace,
        "try { throw 'x' } catch { $_.Exception }; (1).GetType(); { 1 + 1 }; "
        "$l = New-Object System.Collections.ArrayList; [void]$l.Add(1); ,$l",
    )
    exception, type_object, block, array = result.output
    assert isinstance(exception, PSObject) and exception["Message"] == "x"
    assert type_object.to_string == "System.Int32"
    assert block == " 1 + 1 "
    assert type(array) is list and array == [1]


def test_internal_defects_fail_loudly(runspace: PwshRunspace, monkeypatch: Any) -> None:
    from toolkit.sandbox.pwsh import operator_table

    def broken(left: Any, right: Any) -> Any:
        raise ZeroDivisionError("bug")

    monkeypatch.setitem(operator_table.BINARY, "-f", broken)
    # Text no other test compiles: the compiled-script cache must not hold it already.
    result = run_script(runspace, "'{0}' -f 'internal-defect-probe'")
    assert result.failed is not None
    assert result.failed.fully_qualified_error_id == "SandboxEngineError"


@pytest.mark.parametrize(
    ("script", "line", "column"),
    [
        ("'ok'\n$x = @{ a = 1\n", 2, 1),
        ("'ok'\nif ($x) {\n  1\n", 2, 9),
        ("Get-Mailbox | Select-Object Name, Size", 1, 1),
    ],
)
def test_parse_errors_carry_line_and_column(
    runspace: PwshRunspace, script: str, line: int, column: int
) -> None:
    from toolkit.sandbox.pwsh.compiler import compile_script
    from toolkit.sandbox.pwsh.errors import ParseException

    with pytest.raises(ParseException) as error:
        compile_script(script)
    assert (error.value.line, error.value.column) == (line, column)
    result = run_script(runspace, script)
    assert result.output == []
    assert result.failed is not None and result.failed.script_line == line


def test_runspaces_run_concurrently_without_sharing_state() -> None:
    engine = Engine(CmdletRegistry())
    script = (
        "param($N)\n"
        "function Twice { param($x) $x * 2 }\n"
        "$total = 0\n"
        "foreach ($i in 1..200) { $total += Twice $i }\n"
        "$total + $N"
    )
    results: dict[int, Any] = {}

    def work(n: int) -> None:
        runspace = engine.open_runspace(SESSION)
        results[n] = [run_script(runspace, script, {"N": n}).output for _ in range(5)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: [[40200 + n]] * 5 for n in range(6)}


def test_what_the_engine_does_not_emulate_fails_as_a_not_supported_exception(
        runspace: PwshRunspace) -> None:
    """Never a silent skip: a static member, a static method or a hashtable key the engine
    does not emulate is a NotSupportedException, which a script sees and may catch."""
    result = run_script(runspace, "[Math]::Nope(1); [Console]::Nope; "
                                  "try { [Guid]::Nope() } "
                                  "catch [System.NotSupportedException] { 'caught' }")
    assert result.output == ["caught"]
    assert [(e.fully_qualified_error_id, e.exception_type) for e in result.errors] == [
        ("UnsupportedStaticMethod", "System.NotSupportedException"),
        ("UnsupportedStaticMember", "System.NotSupportedException")]
