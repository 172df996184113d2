"""Errors and exit codes: one place, used by every command.

Library code raises the small domain exceptions below; the CLI's single top-level handler
prints ``error: <message>`` plus a hint and exits with the exception's code. A script can
trust the exit code:

====  ==========================================================
0     success
1     some rows or steps failed (the rest succeeded)
2     bad input or usage; nothing was changed
3     drift found (audits)
4     cannot connect or authenticate
130   interrupted (Ctrl-C); the job can be resumed
143   terminated (SIGTERM, as systemd and CI stop a job); handled like Ctrl-C
====  ==========================================================
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    PARTIAL_FAILURE = 1
    BAD_INPUT = 2
    DRIFT = 3
    CONNECTION = 4
    INTERRUPTED = 130
    TERMINATED = 143  # 128 + SIGTERM


class PsbridgeError(Exception):
    """Base of every error psbridge reports to a user.

    ``hint`` is one sentence telling the user what to do about it.
    """

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(PsbridgeError):
    """Bad input (a file, an option, a template): nothing was changed."""

    exit_code = ExitCode.BAD_INPUT


class ConfigError(InputError):
    """The configuration file or a profile is invalid."""


class TemplateError(InputError):
    """A template is missing, malformed, or fails to render."""


class ConnectionFailed(PsbridgeError):
    """The management host or an identity provider could not be reached or refused us."""

    exit_code = ExitCode.CONNECTION


class TransportFault(ConnectionFailed):
    """The connection broke or the host answered with a server error: worth retrying."""

    busy = False  # the account's connections are all in use: wait for a free one
    refused = False  # nothing listens there (down, or the wrong port): no answer at all


class ConnectionsBusy(TransportFault):
    """The account's Exchange connections are all in use (its limit is 3): nothing ran;
    close this connection and wait for a free one."""

    busy = True


class PartialFailure(PsbridgeError):
    """The job ran, but some rows or steps failed."""

    exit_code = ExitCode.PARTIAL_FAILURE


class DriftFound(PsbridgeError):
    """An audit comparison found differences."""

    exit_code = ExitCode.DRIFT


class Interrupted(PsbridgeError):
    """The user pressed Ctrl-C; what finished is recorded."""

    exit_code = ExitCode.INTERRUPTED
