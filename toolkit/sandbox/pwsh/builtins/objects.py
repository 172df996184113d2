"""Making values: Get-Date, New-TimeSpan, ConvertTo-SecureString, New-Object, Get-Random..."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from typing import Any

from toolkit.sandbox.pwsh.builtins.registry import input_objects, native, parameter
from toolkit.sandbox.pwsh.coercion import lookup_type, to_array, to_int, to_string
from toolkit.sandbox.pwsh.commands import CallPrefs
from toolkit.sandbox.pwsh.errors import not_supported, record, runtime_error
from toolkit.sandbox.pwsh.formatting import format_date
from toolkit.sandbox.pwsh.runtime import Context
from toolkit.sandbox.pwsh.static_members import EXCEPTION_TYPES, new_exception
from toolkit.sandbox.values import Hashtable, PSObject, SecureString


@native(
    "Get-Date",
    (),
    parameter("Date", "DateTime", 0),
    parameter("Format", "String"),
    parameter("UFormat", "String"),
    parameter("AsUTC", switch=True),
    parameter("Year", "Int32"),
    parameter("Month", "Int32"),
    parameter("Day", "Int32"),
    parameter("Hour", "Int32"),
    parameter("Minute", "Int32"),
    parameter("Second", "Int32"),
)
def get_date(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    value = params.get("Date") or dt.datetime.now()
    changes = {
        k.lower(): params[k]
        for k in ("Year", "Month", "Day", "Hour", "Minute", "Second")
        if k in params
    }
    if changes:
        value = value.replace(**changes)
    if params.get("AsUTC"):
        value = value.astimezone(dt.UTC)
    if params.get("UFormat"):
        yield value.strftime(params["UFormat"])
    elif params.get("Format"):
        yield format_date(value, params["Format"])
    else:
        yield value


@native(
    "New-TimeSpan",
    (),
    parameter("Start", "DateTime", 0),
    parameter("End", "DateTime", 1),
    parameter("Days", "Int32"),
    parameter("Hours", "Int32"),
    parameter("Minutes", "Int32"),
    parameter("Seconds", "Int32"),
)
def new_timespan(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    if "Start" in params or "End" in params:
        start = params.get("Start") or dt.datetime.now()
        end = params.get("End") or dt.datetime.now()
        yield end.replace(tzinfo=None) - start.replace(tzinfo=None)
        return
    yield dt.timedelta(
        days=params.get("Days", 0),
        hours=params.get("Hours", 0),
        minutes=params.get("Minutes", 0),
        seconds=params.get("Seconds", 0),
    )


@native(
    "ConvertTo-SecureString",
    (),
    parameter("String", "String", 0, pipeline=True),
    parameter("AsPlainText", switch=True),
    parameter("Force", switch=True),
    parameter("Key", "Byte[]"),
)
def convert_to_securestring(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    if not params.get("AsPlainText"):
        raise not_supported(
            "The sandbox engine supports ConvertTo-SecureString only with -AsPlainText -Force.",
            "UnsupportedSecureStringForm",
        )
    for value in input_objects(params, items, "String"):
        yield SecureString(to_string(value))


def _credential(args: list[Any]) -> PSObject:
    if len(args) != 2 or not isinstance(args[1], SecureString):
        raise runtime_error(
            f'Cannot find an overload for "PSCredential" and the argument count: "{len(args)}".',
            "ConstructorInvokedThrowException",
        )
    return PSObject(
        [("UserName", to_string(args[0])), ("Password", args[1])],
        type_names=("System.Management.Automation.PSCredential", "System.Object"),
    )


@native(
    "New-Object",
    (),
    parameter("TypeName", "String", 0),
    parameter("ArgumentList", "Object", 1, aliases=("Args",)),
    parameter("Property", "Hashtable"),
)
def new_object(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    type_name = to_string(params.get("TypeName"))
    key = type_name.casefold().removeprefix("system.")
    raw_args = params.get("ArgumentList")
    args = (
        list(raw_args)
        if isinstance(raw_args, list | tuple)
        else ([] if raw_args is None else [raw_args])
    )
    if key in (
        "psobject",
        "management.automation.psobject",
        "object",
        "management.automation.pscustomobject",
    ):
        yield PSObject((params.get("Property") or Hashtable()).items())
        return
    if key in ("management.automation.pscredential", "pscredential"):
        yield _credential(args)
        return
    found = lookup_type(type_name)
    if found and found[0] in ("System.Collections.ArrayList", "System.Collections.Generic.List"):
        yield found[1](args[0] if args and isinstance(args[0], list | tuple) else [])
        return
    if key in EXCEPTION_TYPES:
        yield new_exception(key, args)
        return
    if found and found[0] == "System.Collections.Hashtable":
        yield Hashtable()
        return
    if key == "guid" and args:
        yield uuid.UUID(to_string(args[0]))
        return
    if key == "datetime" and args:
        parts = [to_int(a) for a in args] + [0] * 6
        yield dt.datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
        return
    raise runtime_error(
        f"Cannot find type [{type_name}]: verify that the assembly containing this type is loaded.",
        "TypeNotFound,Microsoft.PowerShell.Commands.NewObjectCommand",
        category="InvalidType",
        exception_type="System.Management.Automation.PSArgumentException",
    )


@native(
    "Get-Random",
    (),
    parameter("Maximum", "Object", 0),
    parameter("Minimum", "Object"),
    parameter("InputObject", "Object", pipeline=True),
    parameter("Count", "Int32"),
)
def get_random(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    count = params.get("Count", 1)
    if count < 1:
        raise runtime_error(
            f"Cannot validate argument on parameter 'Count'. The {count} argument is less than "
            "the minimum allowed range of 1. Supply an argument that is greater than or equal "
            "to 1 and then try the command again.",
            "ParameterArgumentValidationError,Microsoft.PowerShell.Commands.GetRandomCommand",
            category="InvalidData",
        )
    if items is not None or "InputObject" in params:
        pool = list(items) if items is not None else to_array(params["InputObject"])
        yield from random.sample(pool, min(count, len(pool)))
        return
    low = to_int(params.get("Minimum") or 0)
    high = to_int(params["Maximum"]) if "Maximum" in params else 2**31 - 1
    if low >= high:
        raise runtime_error(
            f"The Minimum value ({low}) cannot be greater than or equal to the Maximum value "
            f"({high}).",
            "MinGreaterThanOrEqualMax,Microsoft.PowerShell.Commands.GetRandomCommand",
            category="InvalidArgument",
        )
    yield random.randrange(low, high)


@native(
    "Add-Member",
    (),
    parameter("InputObject", pipeline=True),
    parameter("MemberType", "String", 0, aliases=("Type",)),
    parameter("Name", "String", 1),
    parameter("Value", "Object", 2),
    parameter("NotePropertyName", "String"),
    parameter("NotePropertyValue"),
    parameter("NotePropertyMembers", "Hashtable"),
    parameter("PassThru", switch=True),
    parameter("Force", switch=True),
)
def add_member(
    ctx: Context, prefs: CallPrefs, params: dict[str, Any], items: Iterator[Any] | None
) -> Iterator[Any]:
    kind = to_string(params.get("MemberType") or "NoteProperty").casefold()
    if kind not in ("noteproperty",):
        raise not_supported(
            f"The sandbox engine supports only NoteProperty members, not {kind}.",
            "UnsupportedMemberType",
        )
    members: list[tuple[str, Any]] = []
    if params.get("NotePropertyMembers") is not None:
        members.extend(params["NotePropertyMembers"].items())
    if params.get("NotePropertyName") is not None:
        members.append((params["NotePropertyName"], params.get("NotePropertyValue")))
    if params.get("Name") is not None:
        members.append((params["Name"], params.get("Value")))
    for target in input_objects(params, items):
        if not isinstance(target, PSObject):
            raise not_supported(
                "The sandbox engine adds members only to PSObjects.",
                "UnsupportedAddMemberTarget",
            )
        for name, value in members:
            if name in target.properties and not params.get("Force"):
                prefs.error(
                    record(
                        f'Cannot add a member with the name "{name}" because a member with '
                        "that name already exists. To overwrite the member anyway, add the "
                        "Force parameter to your command.",
                        "MemberAlreadyExists,Microsoft.PowerShell.Commands.AddMemberCommand",
                        category="InvalidOperation",
                        target=target,
                    )
                )
                continue
            target.properties[name] = value
        if params.get("PassThru"):
            yield target
