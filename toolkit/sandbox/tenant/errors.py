"""Errors the emulated services raise, with the texts and .NET types Microsoft's modules use.

Every text a client may match on lives here, so a fidelity fix is one edit. A
:class:`TenantError` knows which service raised it; :func:`to_error_record` turns it into
the :class:`~toolkit.sandbox.values.ErrorRecord` the cmdlet adapter writes, with a
FullyQualifiedErrorId shaped as each module shapes it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from toolkit.sandbox.values import ErrorRecord

EXCHANGE_TASKS = "Microsoft.Exchange.Configuration.Tasks"
GRAPH_EXCEPTION = "System.Exception"


@dataclass
class TenantError(Exception):
    """A failed service operation.

    ``code`` is the short error code a script can test: the exception's short name for
    Exchange, the Graph ``ErrorCode`` (``Request_BadRequest``) for Graph.
    """

    message: str
    service: str  # "exchange" | "graph"
    exception_type: str
    code: str
    category: str = "NotSpecified"
    http_status: int | None = None
    retry_after_s: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------- Exchange


def _exchange(message: str, exception: str, category: str = "NotSpecified") -> TenantError:
    short = exception.rsplit(".", 1)[-1]
    full = exception if "." in exception else f"{EXCHANGE_TASKS}.{exception}"
    return TenantError(message, "exchange", full, short, category)


# The server that answers in Exchange Online's not-found messages (a directory controller).
DIRECTORY_SERVER = "SB1PR01A001DC01.NAMPR01A001.prod.outlook.com"


def not_found(identity: str) -> TenantError:
    """Exchange Online's not-found text (ExchangeOnlineManagement 3.x transcripts)."""
    return _exchange(
        f"The operation couldn't be performed because object '{identity}' couldn't be found "
        f"on '{DIRECTORY_SERVER}'.",
        "ManagementObjectNotFoundException",
        "NotSpecified",
    )


def ambiguous(identity: str) -> TenantError:
    return _exchange(
        f"The operation couldn't be performed because '{identity}' matches multiple entries.",
        "ManagementObjectAmbiguousException",
    )


def permission_exists(user: str) -> TenantError:
    return _exchange(
        f"An existing permission entry was found for user: {user}.",
        "ManagementObjectAlreadyExistsException",
        "InvalidOperation",
    )


def ace_limit(identity: str) -> TenantError:
    return _exchange(
        f"The access control list of object \"{identity}\" can't hold more than 500 entries. "
        "Remove unused permissions and try again.",
        "ADOperationException",
    )


def ace_missing_warning(object_dn: str, account: str) -> str:
    return (
        f'Can\'t remove the access control entry on the object "{object_dn}" for account '
        f'"{account}" because the ACE doesn\'t exist on the object.'
    )


def ace_present_warning(identity: str, account: str) -> str:
    return (
        f'The appropriate access control entry is already present on object "{identity}" '
        f'for account "{account}".'
    )


def invalid_argument(message: str) -> TenantError:
    return _exchange(message, "System.ArgumentException", "InvalidArgument")


def task_argument(message: str) -> TenantError:
    return _exchange(message, "TaskArgumentException", "InvalidArgument")


def property_too_long(maximum: int, length: int) -> TenantError:
    return _exchange(
        f"The length of the property is too long. The maximum length is {maximum} and the "
        f"length of the value provided is {length}.",
        "Microsoft.Exchange.Data.PropertyTooLongException",
        "InvalidArgument",
    )


def already_exists(kind: str, name: str) -> TenantError:
    return _exchange(
        f"The {kind} \"{name}\" already exists. Please specify a different name.",
        "ManagementObjectAlreadyExistsException",
        "InvalidArgument",
    )


def proxy_address_in_use(address: str, owner: str) -> TenantError:
    return _exchange(
        f"The proxy address \"SMTP:{address}\" is already being used by the proxy addresses "
        f"or LegacyExchangeDN of \"{owner}\". Please choose another proxy address.",
        "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
        "InvalidArgument",
    )


def domain_not_accepted(address: str) -> TenantError:
    domain = address.rsplit("@", 1)[-1]
    return _exchange(
        f"The domain {domain} isn't an accepted domain for your organization. "
        f"Use an accepted domain in the address \"{address}\".",
        "Microsoft.Exchange.Data.DataValidationException",
        "InvalidData",
    )


def migration(message: str, exception: str = "MigrationPermanentException") -> TenantError:
    return _exchange(message, f"Microsoft.Exchange.Migration.{exception}", "InvalidArgument")


def exchange_throttled(seconds: int) -> TenantError:
    """What a throttled Exchange cmdlet reports: the budget and a back-off in milliseconds
    (the budget sentence as Exchange writes it, double spaces included)."""
    error = _exchange(
        "This operation exceeds the throttling budget for policy part "
        "'PowerShellMaxCmdletsTimePeriod', policy value '1800',  Budget type: 'PowerShell'.  "
        f"Suggested backoff time {seconds * 1000} ms.",
        "Microsoft.Exchange.Management.RestApiClient.RestClientException",
    )
    error.http_status = 429
    error.retry_after_s = seconds
    return error


def not_connected_exchange(cmdlet: str) -> TenantError:
    return TenantError(
        f"The term '{cmdlet}' is not recognized as a name of a cmdlet, function, script "
        "file, or executable program. Check the spelling of the name, or if a path was "
        "included, verify that the path is correct and try again.",
        "exchange",
        "System.Management.Automation.CommandNotFoundException",
        "CommandNotFoundException",
        "ObjectNotFound",
    )


def too_many_connections() -> TenantError:
    return TenantError(
        "Fail to create a runspace because you have exceeded the maximum number of "
        "connections allowed : 3 for the policy party : MaxConcurrency. Please close "
        "existing runspace and try again.",
        "exchange",
        "System.Management.Automation.Remoting.PSRemotingTransportException",
        "PSRemotingTransportException",
        "OpenError",
    )


def exchange_auth(message: str) -> TenantError:
    return TenantError(
        message, "exchange", "System.UnauthorizedAccessException", "UnauthorizedAccess",
        "AuthenticationError",
    )


# --------------------------------------------------------------------------- Graph


def _graph(message: str, code: str, status: int) -> TenantError:
    """Graph PowerShell 2.x reports every service error as ``InvalidOperation``."""
    return TenantError(message, "graph", GRAPH_EXCEPTION, code, "InvalidOperation",
                       http_status=status)


def graph_not_found(identity: str) -> TenantError:
    return _graph(
        f"Resource '{identity}' does not exist or one of its queried reference-property "
        "objects are not present.",
        "Request_ResourceNotFound",
        404,
    )


def graph_bad_request(message: str) -> TenantError:
    return _graph(message, "Request_BadRequest", 400)


def synced_object() -> TenantError:
    """A cloud-side change to what on-premises AD owns (microsoft-graph-docs#7301)."""
    return graph_bad_request(
        "Unable to update the specified properties for on-premises mastered Directory Sync "
        "objects or objects currently undergoing migration."
    )


def invalid_usage_location() -> TenantError:
    return graph_bad_request(
        "License assignment cannot be done for user with invalid usage location."
    )


def no_available_licenses(sku_id: str) -> TenantError:
    return graph_bad_request(
        f"Subscription with SKU {sku_id} does not have any available licenses."
    )


def graph_forbidden() -> TenantError:
    return _graph(
        "Insufficient privileges to complete the operation.",
        "Authorization_RequestDenied",
        403,
    )


def graph_retries_exhausted() -> TenantError:
    """The Graph SDK retries a 429 itself (three times by default), then gives up with this."""
    return TenantError("Too many retries performed", "graph",
                       "System.InvalidOperationException", "InvalidOperationException",
                       "InvalidOperation")


def graph_not_connected() -> TenantError:
    return TenantError(
        "Authentication needed. Please call Connect-MgGraph.",
        "graph",
        "System.Security.Authentication.AuthenticationException",
        "Authentication needed",
        "AuthenticationError",
    )


def graph_auth(message: str) -> TenantError:
    return TenantError(
        message,
        "graph",
        "System.Security.Authentication.AuthenticationException",
        "InvalidAuthenticationToken",
        "AuthenticationError",
        http_status=401,
    )


# --------------------------------------------------------------------------- records

def _stable_hex(text: str) -> str:
    """A short error-site tag: stable per error, not per call."""
    return hashlib.sha1(text.encode()).hexdigest()[:6].upper()


# Exceptions of Exchange's task framework carry an "Ex......" site code in a V3 message;
# those raised elsewhere (RecipientTaskException, REST client errors) come with none.
_CODED_NAMESPACES = ("Microsoft.Exchange.Configuration.Tasks.", "Microsoft.Exchange.Data.")
# Errors the module raises before any cmdlet runs, in PowerShell's own shape.
_EXCHANGE_SESSION_CODES = ("CommandNotFoundException", "PSRemotingTransportException",
                           "UnauthorizedAccess")


def _exchange_v3(error: TenantError) -> tuple[str, str]:
    """The id and message ExchangeOnlineManagement 3.x's Write-ErrorMessage writes."""
    stamp = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    fqid = (f"[Server=SB1PR01MB0001,RequestId={uuid.uuid4()},TimeStamp={stamp}],"
            "Write-ErrorMessage")
    code = ""
    if error.exception_type.startswith(_CODED_NAMESPACES):
        code = f"Ex{_stable_hex(error.exception_type)}"
    return fqid, f"{code}|{error.exception_type}|{error.message}"


_HTTP_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                 429: "TooManyRequests"}


def _graph_message(error: TenantError) -> str:
    """Graph PowerShell appends the HTTP status, error code and headers to the message."""
    status = error.http_status or 400
    lines = [
        error.message,
        "",
        f"Status: {status} ({_HTTP_REASONS.get(status, 'Error')})",
        f"ErrorCode: {error.code}",
        f"Date: {datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S')}",
        "",
        "Headers:",
    ]
    if error.retry_after_s is not None:
        lines.append(f"Retry-After                   : {error.retry_after_s}")
    lines.append("Cache-Control                 : no-cache")
    return "\n".join(lines)


def to_error_record(
    error: TenantError, cmdlet: str, parameter_set: str | None = None, target: object = None
) -> ErrorRecord:
    message = error.message
    category = error.category
    activity = cmdlet
    if error.service == "exchange" and error.code not in _EXCHANGE_SESSION_CODES:
        fqid, message = _exchange_v3(error)
        category = "NotSpecified"
    elif error.service == "graph" and error.code != "Authentication needed":
        activity = f"{cmdlet}_{parameter_set or 'Get'}"
        cmdlet_class = f"Microsoft.Graph.PowerShell.Cmdlets.{activity.replace('-', '')}"
        fqid = f"{error.code},{cmdlet_class}"
        if error.http_status is not None:
            message = _graph_message(error)
    else:
        fqid = f"{error.code},{cmdlet}"
    return ErrorRecord(
        message=message,
        fully_qualified_error_id=fqid,
        category=category,
        exception_type=error.exception_type,
        target_object=target,
        command_name=activity,
        reason=error.exception_type.rsplit(".", 1)[-1],
    )
