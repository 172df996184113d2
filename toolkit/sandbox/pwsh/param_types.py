"""The conversion binding applies to an argument, chosen by its parameter's type name: the
.NET enums Microsoft's cmdlets take (:data:`ENUMS`), ``*IdParameter`` and address types
(:func:`identity_value`), SecureString, multi-valued properties, ``Unlimited`` and the
primitive types. Kept apart from :mod:`.binder`, which decides which parameter takes an
argument and words the error when a converter raises :class:`ConvertFailure`, and from
:mod:`.coercion`, PowerShell's general casts that these converters build on.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from toolkit.sandbox.pwsh import coercion
from toolkit.sandbox.values import Hashtable, PSObject, SecureString

ENUMS: dict[str, tuple[str, list[str]]] = {
    "mailboxrights": (
        "Microsoft.Exchange.Management.RecipientTasks.MailboxRights",
        [
            "ChangeOwner",
            "ChangePermission",
            "DeleteItem",
            "ExternalAccount",
            "FullAccess",
            "ReadPermission",
        ],
    ),
    "imapsecuritymechanism": (
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.IMAPSecurityMechanism",
        ["None", "Ssl", "Tls"],
    ),
    "activedirectorysecurityinheritance": (
        "System.DirectoryServices.ActiveDirectorySecurityInheritance",
        ["None", "All", "Descendents", "SelfAndChildren", "Children"],
    ),
    "authenticationmethod": (
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.AuthenticationMethod",
        [
            "Basic",
            "Digest",
            "Ntlm",
            "Fba",
            "WindowsIntegrated",
            "LiveIdFba",
            "LiveIdBasic",
            "WSSecurity",
            "Certificate",
            "NegoEx",
            "OAuth",
            "Adfs",
            "Kerberos",
            "Negotiate",
            "LiveIdNegotiate",
            "Misconfigured",
        ],
    ),
    "recipienttypedetails": (
        "Microsoft.Exchange.Data.Directory.Recipient.RecipientTypeDetails",
        [
            "None",
            "UserMailbox",
            "LinkedMailbox",
            "SharedMailbox",
            "LegacyMailbox",
            "RoomMailbox",
            "EquipmentMailbox",
            "MailContact",
            "MailUser",
            "MailUniversalDistributionGroup",
            "MailNonUniversalGroup",
            "MailUniversalSecurityGroup",
            "DynamicDistributionGroup",
            "PublicFolder",
            "SystemAttendantMailbox",
            "SystemMailbox",
            "MailForestContact",
            "User",
            "Contact",
            "UniversalDistributionGroup",
            "UniversalSecurityGroup",
            "NonUniversalGroup",
            "DisabledUser",
            "MicrosoftExchange",
            "ArbitrationMailbox",
            "MailboxPlan",
            "LinkedUser",
            "RoomList",
            "DiscoveryMailbox",
            "RoleGroup",
            "RemoteUserMailbox",
            "Computer",
            "RemoteRoomMailbox",
            "RemoteEquipmentMailbox",
            "RemoteSharedMailbox",
            "PublicFolderMailbox",
            "TeamMailbox",
            "RemoteTeamMailbox",
            "MonitoringMailbox",
            "GroupMailbox",
            "LinkedRoomMailbox",
            "AuditLogMailbox",
            "RemoteGroupMailbox",
            "SchedulingMailbox",
            "GuestMailUser",
            "AuxAuditLogMailbox",
            "SupervisoryReviewPolicyMailbox",
            "WorkspaceMailbox",
            "AllUniqueRecipientTypes",
        ],
    ),
    "recipienttype": (
        "Microsoft.Exchange.Data.Directory.Recipient.RecipientType",
        [
            "Invalid",
            "User",
            "UserMailbox",
            "MailUser",
            "Contact",
            "MailContact",
            "Group",
            "MailUniversalDistributionGroup",
            "MailUniversalSecurityGroup",
            "MailNonUniversalGroup",
            "DynamicDistributionGroup",
            "PublicFolder",
            "PublicDatabase",
            "SystemAttendantMailbox",
            "SystemMailbox",
            "MicrosoftExchange",
            "Computer",
        ],
    ),
    "migrationbatchstatus": (
        "Microsoft.Exchange.Data.Storage.Management.MigrationBatchStatus",
        [
            "Created",
            "Syncing",
            "Stopping",
            "Stopped",
            "Completed",
            "Failed",
            "SyncedWithErrors",
            "Synced",
            "Completing",
            "CompletedWithErrors",
            "Removing",
            "Starting",
            "Corrupted",
            "Waiting",
            "IncrementalSyncing",
        ],
    ),
    "migrationuserstatus": (
        "Microsoft.Exchange.Data.Storage.Management.MigrationUserStatus",
        [
            "Queued",
            "Provisioning",
            "Syncing",
            "Synced",
            "IncrementalSyncing",
            "IncrementalSynced",
            "Completing",
            "Completed",
            "CompletedWithWarnings",
            "Failed",
            "IncrementalFailed",
            "Stopped",
            "IncrementalStopped",
            "Removing",
            "Starting",
            "Stopping",
            "Validating",
            "ProvisionUpdating",
            "Corrupted",
            "Finalizing",
        ],
    ),
    "migrationuserstatussummary": (
        "Microsoft.Exchange.Data.Storage.Management.MigrationUserStatusSummary",
        ["Active", "Completed", "Failed", "Stopped", "Synced"],
    ),
    "errorcategory": (
        "System.Management.Automation.ErrorCategory",
        [
            "NotSpecified",
            "OpenError",
            "CloseError",
            "DeviceError",
            "DeadlockDetected",
            "InvalidArgument",
            "InvalidData",
            "InvalidOperation",
            "InvalidResult",
            "InvalidType",
            "MetadataError",
            "NotImplemented",
            "NotInstalled",
            "ObjectNotFound",
            "OperationStopped",
            "OperationTimeout",
            "SyntaxError",
            "ParserError",
            "PermissionDenied",
            "ResourceBusy",
            "ResourceExists",
            "ResourceUnavailable",
            "ReadError",
            "WriteError",
            "FromStdErr",
            "SecurityError",
            "ProtocolError",
            "ConnectionError",
            "AuthenticationError",
            "LimitsExceeded",
            "QuotaExceeded",
            "NotEnabled",
        ],
    ),
    "actionpreference": (
        "System.Management.Automation.ActionPreference",
        ["SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend", "Break"],
    ),
}

_IDENTITY_PROPERTIES = ("Identity", "UserPrincipalName", "PrimarySmtpAddress", "Id", "Name")


def identity_value(value: Any) -> Any:
    """An ``*IdParameter``: strings as given; objects by their identifying property."""
    if isinstance(value, PSObject):
        for key in _IDENTITY_PROPERTIES:
            if key in value.properties and value.properties[key] is not None:
                return coercion.to_string(value.properties[key])
        return coercion.to_string(value)
    if isinstance(value, list | tuple) and len(value) == 1:
        return identity_value(value[0])
    if value is None:
        return None
    return coercion.to_string(value)


class ConvertFailure(Exception):
    """A conversion failure with the message PowerShell's binder shows."""


def _enum_converter(display: str, values: list[str], many: bool) -> Callable[[Any], Any]:
    canonical = {v.casefold(): v for v in values}

    def one(value: Any) -> str:
        text = coercion.to_string(value).strip()
        found = canonical.get(text.casefold())
        if found is None:
            raise ConvertFailure(
                f'Cannot convert value "{text}" to type "{display}". Error: "Unable to match '
                f"the identifier name {text} to a valid enumerator name. Specify one of the "
                f'following enumerator names and try again:\n{", ".join(values)}"'
            )
        return found

    def convert(value: Any) -> Any:
        if many:
            items: list[Any] = []
            for item in coercion.to_array(value):
                items.extend(coercion.coerce_split(item))
            return [one(item) for item in items]
        if isinstance(value, str) and "," in value:
            return ", ".join(one(part) for part in value.split(","))
        return one(value)

    return convert


def _secure(value: Any) -> SecureString:
    if isinstance(value, SecureString):
        return value
    raise ConvertFailure(
        f'Cannot convert the "{coercion.to_string(value)}" value of type '
        f'"{coercion.type_name_of(value)}" to type "System.Security.SecureString".'
    )


def _multi_valued(value: Any) -> Any:
    if isinstance(value, Hashtable):
        return value
    if value is None:
        return None
    return [identity_value(v) if isinstance(v, PSObject) else v for v in coercion.to_array(value)]


def _unlimited(value: Any) -> Any:
    if isinstance(value, str) and value.strip().casefold() == "unlimited":
        return "Unlimited"
    return coercion.to_int(value)


def _passthrough_many(value: Any) -> Any:
    return coercion.to_array(value)


@lru_cache(maxsize=512)
def converter_for(type_name: str) -> Callable[[Any], Any]:
    """The conversion binding applies for a spec type name."""
    key = type_name.casefold().removeprefix("system.")
    many = key.endswith("[]")
    base = key.removesuffix("[]")
    short = base.rsplit(".", 1)[-1]
    if base in ("management.automation.switchparameter", "switchparameter"):
        return coercion.to_switch_argument
    if base == "boolean":
        return coercion.to_bool_argument
    if short in ENUMS:
        display, values = ENUMS[short]
        return _enum_converter(display, values, many)
    if base == "string":
        return (
            coercion.typed_array(coercion.to_string)
            if many
            else (lambda v: None if v is None else coercion.to_string(v))
        )
    if base in ("int32", "uint32", "int64"):
        bits = 64 if base == "int64" else 33 if base == "uint32" else 32
        full = "System." + {"int32": "Int32", "uint32": "UInt32", "int64": "Int64"}[base]

        def one(value: Any) -> int:
            return coercion.to_int(value, full, bits)

        return coercion.typed_array(one) if many else one
    if base == "char":
        return coercion.to_char
    if base == "double":
        return coercion.to_float
    if base == "guid":
        return coercion.typed_array(coercion.to_guid) if many else coercion.to_guid
    if base == "datetime":
        return coercion.to_datetime
    if base == "byte":
        return coercion.to_bytes
    if base in ("security.securestring", "securestring"):
        return _secure
    if base in ("collections.hashtable", "collections.idictionary", "hashtable"):
        return coercion.to_hashtable
    if base in ("multivaluedproperty", "proxyaddresscollection"):
        return _multi_valued
    if base == "unlimited":
        return _unlimited
    if short.endswith("idparameter") or base in (
        "fqdn",
        "smtpaddress",
        "smtpdomain",
        "emailaddress",
        "windowsliveid",
        "proxyaddress",
    ):
        return coercion.typed_array(identity_value) if many else identity_value
    if many:
        return _passthrough_many
    return lambda value: value
