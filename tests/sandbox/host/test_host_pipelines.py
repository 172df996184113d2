"""Pipelines through the real pypsrp client: commands, values, streams, failures, concurrency."""

from __future__ import annotations

import uuid

from echo_backend import ITEM_TYPES, EchoBackend
from pypsrp.complex_objects import PSInvocationState
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from toolkit.sandbox.values import Hashtable


def run(pool: RunspacePool, cmdlet: str, **parameters: object) -> PowerShell:
    ps = PowerShell(pool)
    ps.add_cmdlet(cmdlet)
    for name, value in parameters.items():
        ps.add_parameter(name, value)
    ps.invoke()
    return ps


def test_objects_arrive_with_type_names_and_properties(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = run(pool, "Get-Objects", Count=2)
    assert ps.state == PSInvocationState.COMPLETED
    assert [o.types for o in ps.output] == [ITEM_TYPES, ITEM_TYPES]
    assert [o.extended_properties for o in ps.output] == [
        {"Index": 0, "Name": "item0"},
        {"Index": 1, "Name": "item1"},
    ]


def test_values_keep_their_types(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        (values,) = run(pool, "Get-Values").output
    assert values.types == ["Sandbox.Test.Values", "System.Object"]
    assert str(values) == "values"
    props = values.extended_properties
    assert props["Text"] == "héllo 'quoted' <xml>"
    assert (props["Int"], props["Big"], props["Negative"]) == (42, 2**40, -(2**40))
    assert props["Double"] == 1.5 and props["Flag"] is True and props["Nothing"] is None
    assert props["When"] == "2024-05-06T07:08:09Z"
    assert props["Id"] == uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert props["Bytes"] == b"\x00\x01binary"
    assert props["List"][:2] == [1, "two"]
    assert props["Table"] == {"Add": "adele@contoso.com"}


def test_commands_parameters_and_arguments_reach_the_backend(
    wsman: WSMan, backend: EchoBackend
) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script("Get-Spec")
        ps.add_parameter("Identity", "sales@contoso.com")
        ps.add_parameter("Force")
        ps.add_argument(7)
        ps.add_statement()
        ps.add_cmdlet("Write-Echo").add_parameter("Rights", ["FullAccess", "SendAs"])
        ps.add_parameter("Table", {"Add": "adele@contoso.com"})
        ps.add_parameter("Id", uuid.UUID(int=1))
        ps.add_parameter("Data", b"csv,bytes")
        output = ps.invoke()

    first, second = backend.invocations[-1].commands
    assert (first.text, first.is_script, first.end_of_statement) == ("Get-Spec", True, True)
    assert first.parameters == [("Identity", "sales@contoso.com"), ("Force", None), (None, 7)]
    assert (second.text, second.is_script) == ("Write-Echo", False)
    names = [name for name, _ in second.parameters]
    values = dict(second.parameters)
    assert names == ["Rights", "Table", "Id", "Data"]
    assert values["Rights"] == ["FullAccess", "SendAs"]
    assert isinstance(values["Table"], Hashtable) and values["Table"]["ADD"] == "adele@contoso.com"
    assert values["Id"] == uuid.UUID(int=1)
    assert values["Data"] == b"csv,bytes"
    assert output[0] == {"Text": "Get-Spec", "IsScript": True, "Names": ["Identity", "Force", None],
                         "Input": []}
    assert output[1] == ["FullAccess", "SendAs"]


def test_pipeline_input_flows_into_the_first_command(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Echo").add_argument("last")
        output = ps.invoke(input=[1, "two", {"k": "v"}])
    assert output == [1, "two", {"k": "v"}, "last"]


def test_streams_carry_non_terminating_errors_and_records(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = run(pool, "Write-Streams")
    assert ps.output == ["done"]
    assert ps.state == PSInvocationState.COMPLETED
    assert ps.had_errors is False  # pypsrp 0.9 sets it only for a failed pipeline
    (error,) = ps.streams.error
    assert error.fq_error == "ManagementObjectNotFound,Get-Mailbox"
    assert error.reason == "ManagementObjectNotFoundException"
    assert error.activity == "Get-Mailbox"
    assert error.message == (
        "ObjectNotFound: (ghost@contoso.com:String) [Get-Mailbox], "
        "ManagementObjectNotFoundException"
    )
    assert (error.target_name, error.target_type) == ("ghost@contoso.com", "String")
    assert error.target_object == "ghost@contoso.com"
    assert error.script_stacktrace == "at <ScriptBlock>, <No file>: line 3"
    assert error.exception.types[0] == (
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    )
    assert error.exception.adapted_properties["Message"] == "Couldn't find object \"ghost@contoso.com\"."
    assert str(error) == "Couldn't find object \"ghost@contoso.com\"."
    assert [w.message for w in ps.streams.warning] == ["Micro delay applied."]
    assert [v.message for v in ps.streams.verbose] == ["Looking up ghost@contoso.com"]
    assert [d.message for d in ps.streams.debug] == ["debug text"]
    (info,) = ps.streams.information
    assert (info.message_data, info.source, info.tags) == ("info text", "Write-Streams", ["t1"])
    (progress,) = ps.streams.progress
    assert (progress.activity, progress.description, progress.percent_complete) == (
        "Scanning", "1 of 2", 50
    )


def test_terminating_error_fails_the_pipeline(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = run(pool, "Fail-Pipeline")
        assert ps.state == PSInvocationState.FAILED
        assert ps.had_errors is True
        assert ps.output == ["before failure"]
        assert ps.streams.error[-1].fq_error == "ManagementObjectNotFound"
        assert "couldn't be found" in str(ps.streams.error[-1])
        # The pool stays usable after a failed pipeline.
        assert run(pool, "Write-Echo", Value="still here").output == ["still here"]


def test_an_engine_bug_fails_the_pipeline_loudly(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        crashed = run(pool, "Crash-Engine")
        unknown = run(pool, "No-Such-Command")
    assert crashed.state == PSInvocationState.FAILED
    assert crashed.streams.error[-1].fq_error == "SandboxEngineError"
    assert "a bug in the engine" in str(crashed.streams.error[-1])
    assert unknown.streams.error[-1].fq_error == "CommandNotFoundException"


def test_redirected_error_stream_goes_to_output(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Streams").merge_error("output")
        output = ps.invoke()
    assert ps.streams.error == []
    assert output[0].fq_error == "ManagementObjectNotFound,Get-Mailbox"
    assert output[1] == "done"


def test_all_streams_redirected_to_output_keep_their_record_types(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Streams").merge_all("output")
        output = ps.invoke()
    assert ps.streams.error == ps.streams.warning == ps.streams.verbose == []
    assert ps.streams.debug == ps.streams.information == []
    assert [type(o).__name__ for o in output] == [
        "ErrorRecordMessage", "WarningRecord", "VerboseRecord", "DebugRecord", "str", "str"
    ]
    assert output[-2:] == ["info text", "done"]


def test_stop_ends_a_running_pipeline(wsman: WSMan, backend: EchoBackend) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Wait-Stop")
        ps.begin_invoke()
        assert backend.waiting.wait(5)
        ps.stop()
        assert backend.stopped.wait(5)
        assert ps.state == PSInvocationState.STOPPED
        ps.close()
        assert run(pool, "Write-Echo", Value="after stop").output == ["after stop"]


def test_pool_of_three_runs_pipelines_in_parallel(wsman: WSMan) -> None:
    with RunspacePool(wsman, max_runspaces=3) as pool:
        shells = []
        for _ in range(3):
            ps = PowerShell(pool)
            ps.add_cmdlet("Sleep").add_parameter("Milliseconds", 400)
            ps.begin_invoke()
            shells.append(ps)
        results = [ps.end_invoke()[0].extended_properties for ps in shells]
        for ps in shells:
            ps.close()
    assert sorted(r["Runspace"] for r in results) == [0, 1, 2]
    assert max(r["Started"] for r in results) < min(r["Ended"] for r in results)  # overlap


def test_default_pool_runs_one_pipeline_at_a_time(wsman: WSMan) -> None:
    """A pipeline sent while the pool's one runspace is busy waits, then runs: psbridge's
    runner sends a connection's next chunk before the current one ends. Sources:

    - RunspacePool.SetMaxRunspaces (PowerShell SDK), https://learn.microsoft.com/en-us/
      dotnet/api/system.management.automation.runspaces.runspacepool.setmaxrunspaces:
      "Sets the maximum number of Runspaces that can be active concurrently in the pool.
      All requests above that number remain queued until runspaces become available."
    - PowerShell's own pool, src/System.Management.Automation/engine/hostifaces/
      RunspacePoolInternal.cs (PowerShell/PowerShell): a request queue
      (``runspaceRequestQueue``) served as runspaces become available.
    - [MS-PSRP] 3.2.5.4.21, https://msdn.microsoft.com/en-us/library/ee175851.aspx: the
      server sends PIPELINE_STATE when the pipeline "reaches Completed, Failed, or
      Stopped", and nothing for the pipeline after it; a queued pipeline reports nothing
      until then.
    """
    with RunspacePool(wsman) as pool:
        shells = []
        for _ in range(2):
            ps = PowerShell(pool)
            ps.add_cmdlet("Sleep").add_parameter("Milliseconds", 150)
            ps.begin_invoke()
            shells.append(ps)
        first, second = (ps.end_invoke()[0].extended_properties for ps in shells)
    assert first["Runspace"] == second["Runspace"] == 0
    assert second["Started"] >= first["Ended"]


def test_runspace_state_persists_and_runspaces_close_with_the_pool(
    wsman: WSMan, backend: EchoBackend
) -> None:
    with RunspacePool(wsman) as pool:
        run(pool, "Set-Var", Name="tenant", Value="contoso")
        assert run(pool, "Get-Var", Name="tenant").output == ["contoso"]
        (context,) = run(pool, "Get-Context").output
    assert context.extended_properties["Account"] == "admin"
    assert context.extended_properties["Role"] == "admin"
    assert [c.runspace_index for c in backend.closed_runspaces] == [0]
    assert backend.closed_runspaces[0].pool_id == context.extended_properties["Pool"]


def test_secure_strings_travel_both_ways_after_key_exchange(wsman: WSMan) -> None:
    from pypsrp.complex_objects import ObjectMeta

    with RunspacePool(wsman) as pool:
        pool.exchange_keys()
        ps = PowerShell(pool)
        ps.add_cmdlet("Reveal").add_parameter("Password", pool.serialize("Pa55!", ObjectMeta("SS")))
        assert ps.invoke() == ["Pa55!"]
        assert run(pool, "Get-Secret").output == ["s3cret!"]


def test_secure_string_output_without_key_exchange_is_an_error(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = run(pool, "Get-Secret")
    assert ps.output == []
    assert ps.streams.error[0].fq_error == "SandboxSessionKeyMissing"
    assert "exchange_keys" in str(ps.streams.error[0])


def test_large_output_is_fragmented_and_complete(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = run(pool, "Get-Many", Count=20000)
    assert ps.output == list(range(20000))


def test_max_runspaces_can_grow_after_open(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        pool.max_runspaces = 2
        assert pool.get_available_runspaces() == 2
