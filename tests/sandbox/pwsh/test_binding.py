"""Binding registered cmdlets through cmdlets.json, with PowerShell's errors."""

from __future__ import annotations

from typing import Any

import pytest

from toolkit.sandbox.interface import Command, PipelineSpec, SessionContext
from toolkit.sandbox.pwsh.cmdlets import (
    CmdletContext,
    CmdletError,
    CmdletRegistry,
    CmdletTerminatingError,
)
from toolkit.sandbox.pwsh.engine import CollectingSink, Engine, run_script
from toolkit.sandbox.values import ErrorRecord, Hashtable, PSObject, SecureString

CALLS: list[tuple[str, str, dict[str, Any]]] = []


def _record(ctx: CmdletContext, params: dict[str, Any]) -> None:
    CALLS.append((ctx.cmdlet_name, ctx.parameter_set, params))


@pytest.fixture()
def engine() -> Engine:
    CALLS.clear()
    registry = CmdletRegistry()

    @registry.cmdlet("Add-MailboxPermission", product="Exchange Online")
    def add_perm(ctx: CmdletContext, params: dict[str, Any]) -> None:
        _record(ctx, params)
        if params["Identity"] == "missing":
            raise CmdletError(
                ErrorRecord(
                    'Couldn\'t find object "missing".',
                    "ManagementObjectNotFound",
                    "ObjectNotFound",
                    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                )
            )
        if params["Identity"] == "fatal":
            raise CmdletTerminatingError(ErrorRecord("fatal", "Fatal"))

    @registry.cmdlet("Set-Mailbox", product="Exchange Online")
    def set_mailbox(ctx: CmdletContext, params: dict[str, Any]) -> None:
        _record(ctx, params)

    @registry.cmdlet("Get-Mailbox", product="Exchange Online")
    def get_mailbox(ctx: CmdletContext, params: dict[str, Any]) -> list[PSObject]:
        _record(ctx, params)
        ctx.write_warning("heads up")
        return [
            PSObject(
                {"Identity": "a@x", "Name": "a"},
                type_names=[
                    "Deserialized.Microsoft.Exchange.Data.Directory.Management.Mailbox",
                    "Deserialized.System.Object",
                ],
            )
        ]

    @registry.cmdlet("Remove-MgUser", visible=lambda session: session.role == "admin")
    def remove_user(ctx: CmdletContext, params: dict[str, Any]) -> None:
        _record(ctx, params)

    @registry.cmdlet("Update-MgUser")
    def update_user(ctx: CmdletContext, params: dict[str, Any]) -> None:
        _record(ctx, params)

    return Engine(registry)


def errors(result: Any) -> list[str]:
    return [e.fully_qualified_error_id for e in result.errors]


def test_named_prefix_alias_switch_and_conversion(engine: Engine) -> None:
    result = run_script(
        engine,
        "Add-MailboxPermission -Ident box -Us bob -AccessRights "
        "fullaccess -AutoMapping $false -Confirm:$false -InheritanceType all",
    )
    assert errors(result) == [] and result.failed is None
    _, parameter_set, params = CALLS[0]
    assert params == {
        "Identity": "box",
        "User": "bob",
        "AccessRights": ["FullAccess"],
        "AutoMapping": False,
        "Confirm": False,
        "InheritanceType": "All",
    }
    assert parameter_set == "AccessRights"


def test_positional_identity_and_object_identity(engine: Engine) -> None:
    run_script(engine, "Get-Mailbox | Add-MailboxPermission -User u -AccessRights FullAccess")
    run_script(engine, "Add-MailboxPermission box2 -User u -AccessRights ReadPermission")
    assert [c[2]["Identity"] for c in CALLS[1:]] == ["a@x", "box2"]


@pytest.mark.parametrize(
    ("script", "error_id", "message"),
    [
        (
            "Add-MailboxPermission -Identity b -User u -AccessRights FullAccess -Bogus 1",
            "NamedParameterNotFound,Add-MailboxPermission",
            "A parameter cannot be found that matches parameter name 'Bogus'.",
        ),
        (
            "Add-MailboxPermission -Identity b -User u -AccessRights FullAccess -DomainController dc",
            "NamedParameterNotFound,Add-MailboxPermission",
            None,
        ),
        (
            "Add-MailboxPermission -Identity b -User u",
            "MissingMandatoryParameter,Add-MailboxPermission",
            "Cannot process command because of one or more missing mandatory parameters: "
            "AccessRights.",
        ),
        (
            "Add-MailboxPermission -Identity b -User u -AccessRights Bogus",
            "CannotConvertArgumentNoMessage,Add-MailboxPermission",
            None,
        ),
        (
            "Add-MailboxPermission -Identity b -User u -AccessRights FullAccess -Owner o",
            "AmbiguousParameterSet,Add-MailboxPermission",
            "Parameter set cannot be resolved using the specified named parameters.",
        ),
        (
            "Add-MailboxPermission -I b -User u -AccessRights FullAccess",
            "AmbiguousParameter,Add-MailboxPermission",
            None,
        ),
        (
            "Add-MailboxPermission b c -User u -AccessRights FullAccess",
            "PositionalParameterNotFound,Add-MailboxPermission",
            "A positional parameter cannot be found that accepts argument 'c'.",
        ),
        (
            "Set-Mailbox -Identity b -HiddenFromAddressListsEnabled 'yes'",
            "ParameterArgumentTransformationError,Set-Mailbox",
            "Cannot process argument transformation on parameter 'HiddenFromAddressListsEnabled'."
            ' Cannot convert value "System.String" to type "System.Boolean". Boolean parameters'
            " accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
        ),
    ],
)
def test_binding_errors(engine: Engine, script: str, error_id: str, message: str | None) -> None:
    result = run_script(engine, script)
    assert errors(result) == [error_id]
    assert "ParameterBinding" in result.errors[0].exception_type
    if message:
        assert result.errors[0].message == message
    assert CALLS == []


def test_multivalued_hashtable_passes_through(engine: Engine) -> None:
    run_script(engine, "Set-Mailbox -Identity m -GrantSendOnBehalfTo @{Add='t1','t2'}")
    value = CALLS[0][2]["GrantSendOnBehalfTo"]
    assert isinstance(value, Hashtable) and value["add"] == ["t1", "t2"]


def test_graph_types_and_securestring(engine: Engine) -> None:
    run_script(
        engine,
        "Update-MgUser -UserId u -AccountEnabled:$true -PasswordProfile "
        "@{Password='x'; ForceChangePasswordNextSignIn=$true}",
    )
    params = CALLS[0][2]
    assert params["AccountEnabled"] is True
    assert isinstance(params["PasswordProfile"], Hashtable)


def test_error_action_and_terminating_errors(engine: Engine) -> None:
    script = """
    Add-MailboxPermission -Identity missing -User u -AccessRights FullAccess
    try {
        Add-MailboxPermission -Identity missing -User u -AccessRights FullAccess -ErrorAction Stop
    } catch [Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException] {
        "caught $($_.FullyQualifiedErrorId)"
    }
    Add-MailboxPermission -Identity missing -User u -AccessRights FullAccess -ErrorAction SilentlyContinue -ErrorVariable bad
    $bad.Count
    try { Add-MailboxPermission -Identity fatal -User u -AccessRights FullAccess } catch { 'terminating caught' }
    """
    result = run_script(engine, script)
    assert errors(result) == ["ManagementObjectNotFound,Add-MailboxPermission"]
    assert result.output == [
        "caught ManagementObjectNotFound,Add-MailboxPermission",
        1,
        "terminating caught",
    ]


def test_warnings_whatif_and_rbac(engine: Engine) -> None:
    result = run_script(engine, "Get-Mailbox -WarningAction SilentlyContinue; Get-Mailbox")
    assert result.warnings == ["heads up"]
    result = run_script(engine, "Add-MailboxPermission b -User u -AccessRights FullAccess -WhatIf")
    assert CALLS[-1][0] == "Get-Mailbox" and result.information[0].startswith("What if:")
    helpdesk = SessionContext(account="h@x", role="helpdesk")
    result = run_script(engine, "Remove-MgUser -UserId u", session=helpdesk)
    assert errors(result) == ["CommandNotFoundException"]


def test_command_pipeline_from_the_interface(engine: Engine) -> None:
    runspace = engine.open_runspace(SessionContext(account="a", role="admin"))
    sink = CollectingSink()
    spec = PipelineSpec(
        [
            Command(
                "Add-MailboxPermission",
                False,
                [
                    ("Identity", "box"),
                    ("User", "u"),
                    ("AccessRights", "FullAccess"),
                    ("Confirm", None),
                ],
            )
        ]
    )
    import threading

    runspace.invoke(spec, sink, threading.Event())
    assert CALLS[0][2]["Confirm"] is True


def test_script_parameters_from_the_interface(engine: Engine) -> None:
    result = run_script(
        engine,
        "param($Password, $Rows) $Password -is [securestring]; $Rows.Count",
        [("Password", SecureString("p")), ("Rows", [1, 2])],
    )
    assert result.output == [True, 2]


def test_parameter_set_without_a_documented_default(engine: Engine) -> None:
    run_script(engine, "Get-Mailbox; Get-Mailbox -Anr smith")
    assert [c[1] for c in CALLS] == ["Identity", "AnrSet"]


def test_errors_carry_the_line_of_their_call(engine: Engine) -> None:
    script = (
        "'first line'\nAdd-MailboxPermission -Identity missing -User u -AccessRights FullAccess"
    )
    result = run_script(engine, script)
    assert result.errors[0].script_line == 2
