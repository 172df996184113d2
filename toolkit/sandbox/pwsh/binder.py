"""Parameter binding the way PowerShell binds a compiled cmdlet, driven by metadata.

Order: named arguments (exact name, alias, then unique prefix), parameter-set narrowing,
positional arguments, type conversion, then the parameter set choice and the mandatory
check (a parameter that takes pipeline input counts as satisfied when input is coming).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from toolkit.sandbox.pwsh import coercion
from toolkit.sandbox.pwsh.errors import PSError, ValidationError, binding_error
from toolkit.sandbox.pwsh.spec import cmdlet_specs
from toolkit.sandbox.values import Hashtable, PSObject, SecureString

ALL_SETS = "__AllParameterSets"
NO_VALUE = object()
# A named argument sent as $null by a PSRP client: present switch, else $null.
SWITCH_OR_NULL = object()

COMMON_PARAMETERS: dict[str, tuple[str, list[str], bool]] = {
    # name: (type, aliases, is_switch)
    "Verbose": ("SwitchParameter", ["vb"], True),
    "Debug": ("SwitchParameter", ["db"], True),
    "ErrorAction": ("ActionPreference", ["ea"], False),
    "WarningAction": ("ActionPreference", ["wa"], False),
    "InformationAction": ("ActionPreference", ["infa"], False),
    "ProgressAction": ("ActionPreference", ["proga"], False),
    "ErrorVariable": ("String", ["ev"], False),
    "WarningVariable": ("String", ["wv"], False),
    "InformationVariable": ("String", ["iv"], False),
    "OutVariable": ("String", ["ov"], False),
    "OutBuffer": ("Int32", ["ob"], False),
    "PipelineVariable": ("String", ["pv"], False),
    "WhatIf": ("SwitchParameter", ["wi"], True),
    "Confirm": ("SwitchParameter", ["cf"], True),
}

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


@dataclass
class ParamInfo:
    name: str
    type_name: str
    aliases: list[str]
    sets: dict[str, tuple[bool, int | None]]  # set -> (mandatory, position); ALL_SETS = every
    pipeline_value: bool = False
    pipeline_property: bool = False
    is_switch: bool = False
    common: bool = False
    convert: Callable[[Any], Any] = field(default=lambda value: value)


@dataclass
class CommandInfo:
    name: str
    params: list[ParamInfo]
    all_sets: list[str]
    default_set: str | None
    script_params: bool = False  # function/script: transformation-error wording
    # Derived once, so binding a call is dictionary work (commands run per row).
    lookup: dict[str, ParamInfo] = field(default_factory=dict, init=False)
    names: list[tuple[str, ParamInfo]] = field(default_factory=list, init=False)
    set_names: dict[str, frozenset[str]] = field(default_factory=dict, init=False)
    mandatory: dict[str, list[ParamInfo]] = field(default_factory=dict, init=False)
    positions: dict[tuple[str, ...], list[ParamInfo]] = field(default_factory=dict, init=False)
    plans: dict[PlanKey, SetPlan] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        every = frozenset(self.all_sets)
        for param in self.params:
            for alias in [param.name, *param.aliases]:
                self.lookup.setdefault(alias.casefold(), param)
                self.names.append((alias.casefold(), param))
            self.set_names[param.name] = every if ALL_SETS in param.sets else frozenset(param.sets)
        for set_name in self.all_sets:
            self.mandatory[set_name] = [
                p
                for p in self.params
                if (entry := p.sets.get(set_name) or p.sets.get(ALL_SETS)) is not None and entry[0]
            ]


# Parameters bound by name (in order), how many positional arguments, pipeline input or not.
PlanKey = tuple[tuple[str, ...], int, bool]


@dataclass(frozen=True)
class SetPlan:
    """What binding decided from the parameter names alone, kept for the next call with
    the same names: which parameters took the positional arguments, the parameter set and
    the parameters left for pipeline input. Only successful bindings are kept."""

    positional: tuple[ParamInfo, ...]
    parameter_set: str
    pipeline_params: list[ParamInfo]


@dataclass
class Bound:
    params: dict[str, Any]
    common: dict[str, Any]
    parameter_set: str
    pipeline_params: list[ParamInfo]


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


class _ConvertFailure(Exception):
    """A conversion failure with the message PowerShell's binder shows."""


def _enum_converter(display: str, values: list[str], many: bool) -> Callable[[Any], Any]:
    canonical = {v.casefold(): v for v in values}

    def one(value: Any) -> str:
        text = coercion.to_string(value).strip()
        found = canonical.get(text.casefold())
        if found is None:
            raise _ConvertFailure(
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
    raise _ConvertFailure(
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


@lru_cache(maxsize=1024)
def spec_command(name: str, product: str | None) -> CommandInfo:
    """CommandInfo of a cmdlet from cmdlets.json, restricted to ``product`` when given."""
    spec = cmdlet_specs()[name]
    declared = [s for s in spec["parameter_sets"] if s != "(All)"]
    params: list[ParamInfo] = []
    for pname, meta in spec["parameters"].items():
        applicable = meta.get("applicable")
        if product and applicable and product not in applicable:
            continue
        sets: dict[str, tuple[bool, int | None]] = {}
        for set_name, info in meta["sets"].items():
            key = ALL_SETS if set_name == "(All)" else set_name
            sets[key] = (bool(info["required"]), info["position"])
            if key != ALL_SETS and key not in declared:
                declared.append(key)
        pipeline = str(meta.get("pipeline") or "")
        by_value = pipeline == "True" or "ByValue" in pipeline
        by_property = "bypropertyname" in pipeline.casefold()
        type_name = meta["type"]
        params.append(
            ParamInfo(
                pname,
                type_name,
                list(meta.get("aliases") or []),
                sets,
                pipeline_value=by_value,
                pipeline_property=by_property,
                is_switch=type_name.rsplit(".", 1)[-1] == "SwitchParameter",
                convert=converter_for(type_name),
            )
        )
    add_common(params)
    return CommandInfo(name, params, declared or [ALL_SETS], spec.get("default_set"))


def add_common(params: list[ParamInfo]) -> None:
    """Append the common parameters a command's metadata does not already list."""
    present = {p.name.casefold() for p in params}
    for cname, (ctype, aliases, switch) in COMMON_PARAMETERS.items():
        if cname.casefold() in present:
            continue
        params.append(
            ParamInfo(
                cname,
                ctype,
                aliases,
                {ALL_SETS: (False, None)},
                is_switch=switch,
                common=True,
                convert=converter_for(ctype),
            )
        )


def _resolve(info: CommandInfo, given: str) -> ParamInfo:
    key = given.casefold()
    found = info.lookup.get(key)
    if found is not None:
        return found
    matches: dict[str, ParamInfo] = {}
    for alias, param in info.names:
        if alias.startswith(key):
            matches[param.name] = param
    if len(matches) == 1:
        found = next(iter(matches.values()))
        info.lookup[key] = found  # a unique prefix stays unique
        return found
    if not matches:
        raise binding_error(
            f"A parameter cannot be found that matches parameter name '{given}'.",
            "NamedParameterNotFound",
            info.name,
        )
    options = " ".join(f"-{name}" for name in matches)
    raise binding_error(
        f"Parameter cannot be processed because the parameter name '{given}' is ambiguous. "
        f"Possible matches include: {options}.",
        "AmbiguousParameter",
        info.name,
    )


def convert_value(info: CommandInfo, param: ParamInfo, value: Any) -> Any:
    try:
        return param.convert(value)
    except _ConvertFailure as failure:
        raise _binding_conversion(info, param, str(failure)) from None
    except ValidationError as error:
        refused = binding_error(
            error.record.message, "ParameterArgumentValidationError", info.name, "InvalidData"
        )
        refused.record.exception_type = error.record.exception_type
        raise refused from None
    except coercion.BooleanArgumentError as error:
        raise _binding_conversion(info, param, error.record.message, transformation=True) from None
    except PSError as error:
        raise _binding_conversion(info, param, error.record.message) from None


def _binding_conversion(
    info: CommandInfo, param: ParamInfo, message: str, *, transformation: bool = False
) -> PSError:
    """Script parameters and Boolean/switch arguments fail in the argument transformation
    step (ParameterArgumentTransformationError); other cmdlet arguments fail to bind."""
    if info.script_params or transformation:
        error = binding_error(
            f"Cannot process argument transformation on parameter '{param.name}'. {message}",
            "ParameterArgumentTransformationError",
            info.name,
            category="InvalidData",
        )
        error.record.exception_type = (
            "System.Management.Automation.ParameterBindingArgumentTransformationException"
        )
        return error
    return binding_error(
        f"Cannot bind parameter '{param.name}'. {message}",
        "CannotConvertArgumentNoMessage",
        info.name,
    )


def bind(info: CommandInfo, args: list[tuple[str | None, Any]], has_input: bool) -> Bound:
    """Bind evaluated arguments; ``(name, NO_VALUE)`` is a bare ``-Name``."""
    raw: dict[str, tuple[ParamInfo, Any]] = {}
    positional: list[Any] = []
    index = 0
    while index < len(args):
        name, value = args[index]
        index += 1
        if name is None:
            positional.append(value)
            continue
        param = _resolve(info, name)
        if param.name in raw:
            raise binding_error(
                f"Cannot bind parameter because parameter '{param.name}' is specified more "
                "than once. To provide multiple values to parameters that can accept multiple "
                'values, use the array syntax. For example, "-parameter value1,value2,value3".',
                "ParameterAlreadyBound",
                info.name,
            )
        if param.is_switch:
            raw[param.name] = (param, True if value in (NO_VALUE, SWITCH_OR_NULL) else value)
            continue
        if value is SWITCH_OR_NULL:
            value = None
        if value is NO_VALUE:
            if index < len(args) and args[index][0] is None:
                value = args[index][1]
                index += 1
            else:
                raise binding_error(
                    f"Missing an argument for parameter '{param.name}'. Specify a parameter "
                    f"of type '{_display_type(param.type_name)}' and try again.",
                    "MissingArgument",
                    info.name,
                )
        raw[param.name] = (param, value)

    key: PlanKey = (tuple(raw), len(positional), has_input)
    plan = info.plans.get(key)
    if plan is not None:
        for param, value in zip(plan.positional, positional, strict=True):
            raw[param.name] = (param, value)
        params, common = _converted(info, raw)
        return Bound(params, common, plan.parameter_set, plan.pipeline_params)

    named_only = len(raw)
    candidates = _narrow(info, raw, info.all_sets)
    if positional:
        _bind_positional(info, raw, positional, candidates)
        candidates = _narrow(info, raw, candidates)
    params, common = _converted(info, raw)
    chosen = _choose_set(info, raw, candidates, has_input)
    pipeline_params = []
    if has_input:
        pipeline_params = [
            p
            for p in info.params
            if (p.pipeline_value or p.pipeline_property)
            and p.name not in raw
            and (ALL_SETS in p.sets or chosen in p.sets or chosen == ALL_SETS)
        ]
    positional_params = tuple(param for param, _ in list(raw.values())[named_only:])
    info.plans[key] = SetPlan(positional_params, chosen, pipeline_params)
    return Bound(params, common, chosen, pipeline_params)


def _converted(
    info: CommandInfo, raw: dict[str, tuple[ParamInfo, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bound values converted to their parameters' types: (parameters, common ones)."""
    params: dict[str, Any] = {}
    common: dict[str, Any] = {}
    for pname, (param, value) in raw.items():
        converted = convert_value(info, param, value)
        if param.common:
            common[pname] = converted
        else:
            params[pname] = converted
    return params, common


def _narrow(
    info: CommandInfo, raw: dict[str, tuple[ParamInfo, Any]], candidates: list[str]
) -> list[str]:
    """The parameter sets every bound parameter belongs to; none is an error."""
    for name in raw:
        allowed = info.set_names[name]
        if len(allowed) != len(info.all_sets):
            candidates = [s for s in candidates if s in allowed]
    if not candidates:
        raise binding_error(
            "Parameter set cannot be resolved using the specified named parameters.",
            "AmbiguousParameterSet",
            info.name,
        )
    return candidates


def _display_type(type_name: str) -> str:
    simple = {
        "string": "System.String",
        "int32": "System.Int32",
        "boolean": "System.Boolean",
        "string[]": "System.String[]",
    }
    return simple.get(type_name.casefold(), type_name)


def _position(param: ParamInfo, candidates: list[str]) -> int | None:
    positions = [param.sets[s][1] for s in candidates if s in param.sets]
    if ALL_SETS in param.sets:
        positions.append(param.sets[ALL_SETS][1])
    known = [p for p in positions if p is not None]
    return min(known) if known else None


def _positional_order(info: CommandInfo, candidates: tuple[str, ...]) -> list[ParamInfo]:
    """Parameters that take positional arguments in these sets, by position (cached)."""
    cached = info.positions.get(candidates)
    if cached is None:
        ranked = sorted(
            (
                (pos, p)
                for p in info.params
                if not p.is_switch and (pos := _position(p, list(candidates))) is not None
            ),
            key=lambda pair: pair[0],
        )
        cached = info.positions[candidates] = [p for _, p in ranked]
    return cached


def _bind_positional(
    info: CommandInfo,
    raw: dict[str, tuple[ParamInfo, Any]],
    positional: list[Any],
    candidates: list[str],
) -> None:
    ordered = [p for p in _positional_order(info, tuple(candidates)) if p.name not in raw]
    for value in positional:
        if not ordered:
            shown = coercion.to_string(value)
            raise binding_error(
                f"A positional parameter cannot be found that accepts argument '{shown}'.",
                "PositionalParameterNotFound",
                info.name,
            )
        param = ordered.pop(0)
        raw[param.name] = (param, value)


def _mandatory_missing(
    info: CommandInfo, set_name: str, bound: dict[str, Any], has_input: bool
) -> list[str]:
    return [
        param.name
        for param in info.mandatory[set_name]
        if param.name not in bound
        and not (has_input and (param.pipeline_value or param.pipeline_property))
    ]


def _preferred(info: CommandInfo, sets: list[str]) -> str:
    """The set PowerShell would pick among equally valid ones.

    The cmdlet's default set when the metadata names it. Microsoft's pages do not record
    DefaultParameterSetName for Exchange cmdlets, so otherwise a set named Identity or
    Default (what those cmdlets declare as default), then the first in page order.
    """
    if info.default_set in sets:
        return str(info.default_set)
    for name in ("Identity", "Default"):
        if name in sets:
            return name
    return sets[0]


def _choose_set(
    info: CommandInfo, bound: dict[str, Any], candidates: list[str], has_input: bool
) -> str:
    satisfied = [s for s in candidates if not _mandatory_missing(info, s, bound, has_input)]
    if satisfied:
        return _preferred(info, satisfied)
    target = _preferred(info, candidates)
    missing = _mandatory_missing(info, target, bound, has_input)
    raise binding_error(
        "Cannot process command because of one or more missing mandatory parameters: "
        f"{' '.join(missing)}.",
        "MissingMandatoryParameter",
        info.name,
    )


def bind_pipeline_item(info: CommandInfo, bound: Bound, item: Any) -> dict[str, Any]:
    """The parameters for one pipeline input object (ByValue first, then ByPropertyName)."""
    params = dict(bound.params)
    for param in bound.pipeline_params:
        if param.pipeline_value and not (
            param.pipeline_property
            and isinstance(item, PSObject)
            and _property(item, param) is not None
        ):
            params[param.name] = convert_value(info, param, item)
            return params
    taken = False
    for param in bound.pipeline_params:
        if param.pipeline_property and isinstance(item, PSObject | Hashtable):
            value = _property(item, param)
            if value is not None:
                params[param.name] = convert_value(info, param, value)
                taken = True
    if not taken:
        raise binding_error(
            "The input object cannot be bound to any parameters for the command either because "
            "the command does not take pipeline input or the input and its properties do not "
            "match any of the parameters that take pipeline input.",
            "InputObjectNotBound",
            info.name,
        )
    return params


def _property(item: Any, param: ParamInfo) -> Any:
    props = item.properties if isinstance(item, PSObject) else item
    for name in [param.name, *param.aliases]:
        if name in props:
            return props[name]
    return None
