"""WSMan faults the host answers with, carrying the codes Windows uses.

pypsrp turns a fault into ``WSManFaultError`` with ``code`` set from the ``WSManFault``
``Code`` attribute, and some codes mean something to it: 0x80338029 (operation timeout)
makes ``poll_invoke`` simply poll again; 0x8033805B (shell not found) makes ``is_alive``
report a closed pool.
"""

from __future__ import annotations

OPERATION_TIMEOUT = 0x80338029
SHELL_NOT_FOUND = 0x8033805B
INVALID_SELECTORS = 0x80338041
ACTION_NOT_SUPPORTED = 0x80338116
INVALID_RESOURCE_URI = 0x80338000
ACCESS_DENIED = 0x80070005
INVALID_MESSAGE = 0x8033800F
INTERNAL_ERROR = 0x80338043


class WSManFault(Exception):
    """A fault to send instead of the action's response."""

    def __init__(self, code: int, message: str, subcode: str = "w:InternalError"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode


def operation_timeout() -> WSManFault:
    return WSManFault(
        OPERATION_TIMEOUT,
        "The WS-Management service cannot complete the operation within the time specified "
        "in OperationTimeout.",
        "w:TimedOut",
    )


def shell_not_found(shell_id: str) -> WSManFault:
    return WSManFault(
        SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the "
        "shell was not found on the server. Possible causes are: the specified ShellId is "
        "incorrect or the shell no longer exists on the server.",
        "w:InvalidSelectors",
    )


def command_not_found(command_id: str) -> WSManFault:
    return WSManFault(
        INVALID_SELECTORS,
        f"The request for the command with CommandId {command_id} failed because the command "
        "was not found in the shell.",
        "w:InvalidSelectors",
    )


def unsupported(what: str) -> WSManFault:
    return WSManFault(
        ACTION_NOT_SUPPORTED,
        f"The sandbox management host does not support {what}.",
        "w:ActionNotSupported",
    )


def invalid_message(detail: str) -> WSManFault:
    return WSManFault(
        INVALID_MESSAGE,
        f"The WS-Management service cannot process the request: {detail}",
        "w:SchemaValidationError",
    )
