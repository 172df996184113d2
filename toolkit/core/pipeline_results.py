"""What a pipeline returns, and how the errors in it are named.

A :class:`PipelineResult` holds a pipeline's output and streams, its errors as
:class:`ErrorInfo`; :func:`short_error_id` and :func:`exchange_message_parts` read the ids
and messages of Exchange Online, on-premises Exchange, Graph PowerShell and PowerShell.
Kept apart from :mod:`toolkit.core.session`, which fills them from pypsrp's records: the
retry rules, the tasks and the reports read them without a connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorInfo:
    """A PowerShell error record, reduced to what psbridge reports and classifies."""

    message: str  # the readable text (an Exchange message without its "code|type|" head)
    error_id: str  # FullyQualifiedErrorId
    category: str | None = None
    target: str | None = None
    exception_type: str | None = None
    reason: str | None = None  # CategoryInfo.Reason: the exception's short type name


# ExchangeOnlineManagement 3.x writes every cmdlet error through its Write-ErrorMessage
# function: the id names that function, the message is "<code>|<exception type>|<text>".
_EXO_V3_ID_SUFFIX = ",Write-ErrorMessage"
_EXO_V3_MESSAGE = re.compile(r"^(?P<code>[^|\s]*)\|(?P<type>[\w.]+)\|(?P<text>.*)\Z", re.DOTALL)
# Remote PowerShell to an on-premises Exchange server (and Exchange Online before 2023):
# "[Server=...] [FailureCategory=Cmdlet-<exception>] <hex>,<task class>".
_ON_PREMISES_ID = re.compile(r"\[FailureCategory=(?:Cmdlet-)?(?P<name>[^\]]+)\]")


def exchange_message_parts(message: str | None) -> tuple[str | None, str]:
    """The exception type named in an Exchange Online message, and its readable text.

    ``Ex6F9304|Microsoft.Exchange...ManagementObjectNotFoundException|The operation...``
    -> (``Microsoft.Exchange...ManagementObjectNotFoundException``, ``The operation...``);
    any other message comes back whole, with no type.
    """
    match = _EXO_V3_MESSAGE.match(message or "")
    if match is None:
        return None, message or ""
    return match.group("type"), match.group("text")


def short_error_id(error_id: str | None, message: str | None = None,
                   reason: str | None = None) -> str:
    """The stable name of an error: what a script or a person can match on.

    - Exchange Online (V3 module): ``CategoryInfo.Reason`` or the ``|Type|`` segment of the
      message, e.g. ``ManagementObjectNotFoundException``;
    - on-premises Exchange: the ``[FailureCategory=Cmdlet-<name>]`` part of the id;
    - Graph PowerShell and PowerShell itself: the id before its first comma
      (``Request_ResourceNotFound``, ``NamedParameterNotFound``).
    """
    if not error_id:
        return reason or ""
    if error_id.endswith(_EXO_V3_ID_SUFFIX):
        named = reason or exchange_message_parts(message)[0]
        return named.rsplit(".", 1)[-1] if named else "Write-ErrorMessage"
    on_premises = _ON_PREMISES_ID.search(error_id)
    if on_premises:
        return on_premises.group("name")
    return error_id.split(",", 1)[0]


@dataclass
class PipelineResult:
    output: list[Any]
    errors: list[ErrorInfo]
    warnings: list[str]
    verbose: list[str]
    information: list[str]
    failed: bool  # the pipeline ended in the Failed state (a terminating error)
    duration: float
