"""Exceptions the engine raises and the error records PowerShell would build for them.

Messages and FullyQualifiedErrorIds follow Windows PowerShell's wording, because the
client (and the templates' try/catch) read them.
"""

from __future__ import annotations

from typing import Any

from toolkit.sandbox.values import ErrorRecord

PARAMETER_BINDING = "System.Management.Automation.ParameterBindingException"
RUNTIME = "System.Management.Automation.RuntimeException"
PARSE = "System.Management.Automation.ParseException"
COMMAND_NOT_FOUND = "System.Management.Automation.CommandNotFoundException"
NOT_SUPPORTED = "System.NotSupportedException"


class ParseException(Exception):
    """The script does not parse (or uses a construct the engine cannot run)."""

    def __init__(self, message: str, line: int, column: int, error_id: str = "ParseException"):
        super().__init__(f"At line:{line} char:{column}\n{message}")
        self.line = line
        self.column = column
        self.error_id = error_id
        self.record = ErrorRecord(
            message=str(self),
            fully_qualified_error_id=error_id,
            category="ParserError",
            exception_type=PARSE,
            script_line=line,
        )


class UnsupportedConstruct(ParseException):
    """A construct PowerShell has but this engine does not run: never skipped silently."""

    def __init__(self, construct: str, line: int, column: int):
        super().__init__(
            f"The sandbox PowerShell engine does not support {construct}.",
            line,
            column,
            "UnsupportedConstruct",
        )
        self.record.exception_type = NOT_SUPPORTED
        self.record.category = "NotImplemented"


class PSError(Exception):
    """A terminating error carrying its record; catchable by ``try``/``catch``.

    ``script_terminating`` marks ``throw`` and errors escalated by ErrorAction Stop: they
    end the whole script unless caught. Other terminating errors end only their statement.
    """

    def __init__(self, record: ErrorRecord, *, script_terminating: bool = False):
        super().__init__(record.message)
        self.record = record
        self.script_terminating = script_terminating


class ValidationError(PSError):
    """A [Validate*] attribute refused an argument."""


def record(
    message: str,
    error_id: str,
    *,
    category: str = "NotSpecified",
    exception_type: str = RUNTIME,
    command: str | None = None,
    target: Any = None,
    line: int | None = None,
) -> ErrorRecord:
    """Build an ErrorRecord; ``command`` appends ``,<command>`` to the id as PowerShell does."""
    fqid = f"{error_id},{command}" if command else error_id
    return ErrorRecord(
        message=message,
        fully_qualified_error_id=fqid,
        category=category,
        exception_type=exception_type,
        target_object=target,
        command_name=command,
        script_line=line,
    )


def binding_error(
    message: str, error_id: str, command: str, category: str = "InvalidArgument"
) -> PSError:
    return PSError(
        record(
            message, error_id, category=category, exception_type=PARAMETER_BINDING, command=command
        )
    )


def command_not_found(name: str, line: int | None = None) -> PSError:
    message = (
        f"The term '{name}' is not recognized as a name of a cmdlet, function, script file, "
        "or executable program. Check the spelling of the name, or if a path was included, "
        "verify that the path is correct and try again."
    )
    return PSError(
        record(
            message,
            "CommandNotFoundException",
            category="ObjectNotFound",
            exception_type=COMMAND_NOT_FOUND,
            target=name,
            line=line,
        )
    )


def runtime_error(
    message: str,
    error_id: str,
    *,
    category: str = "InvalidOperation",
    exception_type: str = RUNTIME,
    target: Any = None,
) -> PSError:
    return PSError(
        record(message, error_id, category=category, exception_type=exception_type, target=target)
    )


def not_supported(message: str, error_id: str) -> PSError:
    """PowerShell this engine does not emulate, met while running: a NotSupportedException
    that a script sees (and may catch) as any other error, never a silent skip."""
    return runtime_error(message, error_id, exception_type=NOT_SUPPORTED)


class FlowControl(Exception):
    """Base of the control-flow signals (``break``, ``continue``, ``return``)."""


class BreakSignal(FlowControl):
    def __init__(self, label: str | None = None):
        super().__init__()
        self.label = label


class ContinueSignal(FlowControl):
    def __init__(self, label: str | None = None):
        super().__init__()
        self.label = label


class ReturnSignal(FlowControl):
    pass
