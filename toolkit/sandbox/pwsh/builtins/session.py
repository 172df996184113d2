"""The session: Set-StrictMode, Start-Sleep, Import-Module, Get-Command, Get-Module."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from toolkit.sandbox.pwsh import operators
from toolkit.sandbox.pwsh.builtins.registry import native, parameter
from toolkit.sandbox.pwsh.coercion import to_string
from toolkit.sandbox.pwsh.commands import CallPrefs
from toolkit.sandbox.pwsh.errors import record, runtime_error
from toolkit.sandbox.pwsh.runtime import Context
from toolkit.sandbox.values import PSObject


@native(
    "Set-StrictMode",
    (),
    parameter("Version", "String", 0, aliases=("v",)),
    parameter("Off", switch=True),
)
def set_strict_mode(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    """Version 1: reading an unset variable fails; 2 and later: also a missing property."""
    if params.get("Off"):
        ctx.scope.strict = 0
        return iter(())
    version = to_string(params.get("Version") or "")
    if version.casefold() == "latest":
        ctx.scope.strict = 3
    else:
        try:
            ctx.scope.strict = int(float(version))
        except ValueError:
            raise runtime_error(
                f"Cannot validate argument on parameter 'Version'. The \"{version}\" argument "
                "is not a valid version.",
                "ParameterArgumentValidationError,Microsoft.PowerShell.Commands.SetStrictModeCommand",
                category="InvalidData",
            ) from None
    return iter(())


@native(
    "Start-Sleep",
    ("sleep",),
    parameter("Seconds", "Double", 0),
    parameter("Milliseconds", "Int32"),
)
def start_sleep(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    seconds = float(params.get("Seconds") or 0) + (params.get("Milliseconds") or 0) / 1000
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if ctx.stop.wait(min(remaining, 0.1)):
            ctx.check_stop()
    return iter(())


# Modules whose cmdlets the sandbox emulates (cmdlets.json) or that ship with PowerShell.
_MODULES = (
    "ExchangeOnlineManagement",
    "Microsoft.Graph",
    "Microsoft.Graph.*",
    "Microsoft.PowerShell.*",
)


@native(
    "Import-Module",
    ("ipmo",),
    parameter("Name", "String[]", 0),
    parameter("MinimumVersion", "String"),
    parameter("RequiredVersion", "String"),
    parameter("Force", switch=True),
    parameter("DisableNameChecking", switch=True),
    parameter("Global", switch=True),
    parameter("Prefix", "String"),
)
def import_module(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for name in params.get("Name") or []:
        if not any(operators.like(name, pattern) for pattern in _MODULES):
            prefs.error(
                record(
                    f"The specified module '{name}' was not loaded because no valid module "
                    "file was found in any module directory.",
                    "Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand",
                    category="ResourceUnavailable",
                    exception_type="System.IO.FileNotFoundException",
                    target=name,
                )
            )
    return iter(())


@native("Get-Command", ("gcm",), parameter("Name", "String[]", 0), parameter("Module", "String[]"))
def get_command(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    for name in params.get("Name") or []:
        function = ctx.scope.find_function(name.casefold())
        command = ctx.runspace.resolve_command(name)
        if function is not None:
            yield _command_info(function.name, "Function", "")
        elif command is not None:
            yield _command_info(command.name, "Cmdlet", command.source)
        else:
            prefs.error(
                record(
                    f"The term '{name}' is not recognized as a name of a cmdlet, function, "
                    "script file, or executable program. Check the spelling of the name, or "
                    "if a path was included, verify that the path is correct and try again.",
                    "CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand",
                    category="ObjectNotFound",
                    exception_type="System.Management.Automation.CommandNotFoundException",
                    target=name,
                )
            )


def _command_info(name: str, kind: str, source: str) -> PSObject:
    return PSObject(
        [("Name", name), ("CommandType", kind), ("Source", source), ("ModuleName", source)],
        type_names=("System.Management.Automation.CommandInfo", "System.Object"),
        to_string=name,
    )


@native(
    "Get-Module",
    ("gmo",),
    parameter("Name", "String[]", 0),
    parameter("ListAvailable", switch=True),
)
def get_module(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    """The host's installed modules (``-ListAvailable``), by name or wildcard."""
    import fnmatch

    if not params.get("ListAvailable"):
        raise runtime_error(
            "The sandbox lists installed modules only: use Get-Module -ListAvailable.",
            "NotSupported")
    patterns = [str(n).casefold() for n in params.get("Name") or ["*"]]
    for name, version in sorted(ctx.runspace.modules.items()):
        if any(fnmatch.fnmatchcase(name.casefold(), p) for p in patterns):
            yield PSObject(
                [("Name", name), ("Version", version), ("ModuleType", "Script"),
                 ("Path", f"C:\\Program Files\\PowerShell\\Modules\\{name}\\{version}\\"
                          f"{name}.psd1")],
                type_names=("System.Management.Automation.PSModuleInfo", "System.Object"),
            )
