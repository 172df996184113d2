"""Conversion between the engine's values (``toolkit.sandbox.values``) and psrpcore's CLIXML types.

``to_clixml`` prepares what a pipeline writes for psrpcore's serializer, so that the pypsrp
client deserializes the right .NET types, type names and properties. ``from_clixml`` turns
what psrpcore deserialized from the client (parameters, pipeline input) back into plain
Python values and the classes of ``values.py``.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from collections.abc import Mapping
from typing import Any

from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    NETException,
    PSByteArray,
    PSChar,
    PSCredential,
    PSDateTime,
    PSDecimal,
    PSDict,
    PSDictBase,
    PSDouble,
    PSInt,
    PSInt64,
    PSList,
    PSSecureString,
    add_note_property,
)
from psrpcore.types import ErrorRecord as ClixmlErrorRecord
from psrpcore.types import (
    PSObject as ClixmlObject,
)

from toolkit.sandbox.values import ErrorRecord, Hashtable, PSObject, SecureString

ARRAY_TYPES = ["System.Object[]", "System.Array", "System.Object"]
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_EXCEPTION_BASE_TYPES = ["System.Exception", "System.Object"]
_DESERIALIZED = "Deserialized."


def to_clixml(value: Any) -> Any:
    """An engine value as psrpcore serializes it for the client."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return str(value.name)
    if isinstance(value, int):
        return PSInt(value) if _INT32_MIN <= value <= _INT32_MAX else PSInt64(value)
    if isinstance(value, float):
        return PSDouble(value)  # psrpcore would pick System.Single for a bare float
    if isinstance(value, decimal.Decimal):
        return PSDecimal(value)
    if isinstance(value, datetime.datetime):
        return PSDateTime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, value.tzinfo,
        )
    if isinstance(value, (uuid.UUID, datetime.timedelta)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return PSByteArray(bytes(value))
    if isinstance(value, SecureString):
        return PSSecureString(value.reveal())
    if isinstance(value, PSObject):
        return _object_to_clixml(value)
    if isinstance(value, ErrorRecord):
        return error_record_to_clixml(value)
    if isinstance(value, Mapping):
        return PSDict((to_clixml(k), to_clixml(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        array = PSList(to_clixml(v) for v in value)
        array.PSObject.type_names = list(ARRAY_TYPES)
        return array
    raise TypeError(f"the sandbox host cannot send a {type(value).__name__} value to the client")


def _object_to_clixml(value: PSObject) -> ClixmlObject:
    obj = ClixmlObject()
    obj.PSObject.type_names = list(value.type_names)
    for name, prop in value.properties.items():
        add_note_property(obj, name, to_clixml(prop))
    if value.to_string is not None:
        obj.PSObject.to_string = value.to_string
    return obj


class _CategoryInfo(ErrorCategoryInfo):
    """ErrorCategoryInfo whose text is PowerShell's ("CategoryInfo : ..." under an error)."""

    def __str__(self) -> str:
        return (
            f"{self.Category.name}: ({self.TargetName or ''}:{self.TargetType or ''}) "
            f"[{self.Activity or ''}], {self.Reason or ''}"
        )


def error_record_to_clixml(record: ErrorRecord) -> ClixmlErrorRecord:
    """The psrpcore ErrorRecord the client deserializes into ``streams.error`` entries."""
    exception = NETException(Message=record.message, HResult=-2146233087)
    exception_types = [record.exception_type]
    exception_types += [t for t in _EXCEPTION_BASE_TYPES if t != record.exception_type]
    exception.PSObject.type_names = exception_types

    short_exception = record.exception_type.rsplit(".", 1)[-1]
    reason = record.reason or short_exception
    target_name = "" if record.target_object is None else str(record.target_object)
    target_type = "" if record.target_object is None else _dotnet_short_type(record.target_object)
    activity = record.command_name or ""
    category_info = _CategoryInfo(
        Category=_category(record.category),
        Activity=activity,
        Reason=reason,
        TargetName=target_name,
        TargetType=target_type,
    )
    stack = None
    if record.script_line is not None:  # what $_.ScriptStackTrace says for a remote script
        stack = f"at <ScriptBlock>, <No file>: line {record.script_line}"
    return ClixmlErrorRecord(
        Exception=exception,
        CategoryInfo=category_info,
        TargetObject=to_clixml(record.target_object),
        FullyQualifiedErrorId=record.fully_qualified_error_id,
        ScriptStackTrace=stack,
    )


def _category(name: str) -> ErrorCategory:
    try:
        return ErrorCategory[name]
    except KeyError:
        return ErrorCategory.NotSpecified


def _dotnet_short_type(value: Any) -> str:
    if isinstance(value, PSObject):
        return value.type_names[0].rsplit(".", 1)[-1]
    return {
        bool: "Boolean", int: "Int32", float: "Double", str: "String", bytes: "Byte[]",
    }.get(type(value), type(value).__name__)


def holds_secure_string(value: Any) -> bool:
    """Whether a SecureString is anywhere in ``value``."""
    if isinstance(value, SecureString):
        return True
    if isinstance(value, PSObject):
        return any(holds_secure_string(v) for v in value.properties.values())
    if isinstance(value, Mapping):
        return any(holds_secure_string(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_secure_string(v) for v in value)
    return False


def from_clixml(value: Any) -> Any:
    """A value psrpcore deserialized from the client, as the engine works with it."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, PSSecureString):
        return SecureString(str(value.decrypt()))
    if isinstance(value, PSChar):
        return chr(int(value))
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return decimal.Decimal(value)
    if isinstance(value, datetime.datetime):
        return datetime.datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, value.tzinfo,
        )
    if isinstance(value, datetime.timedelta):
        return datetime.timedelta(seconds=value.total_seconds())
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=value.int)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, PSCredential):
        return PSObject(
            {"UserName": from_clixml(value.UserName), "Password": from_clixml(value.Password)},
            type_names=PSCredential.PSObject.type_names,
        )
    if isinstance(value, (PSDictBase, dict)):
        return Hashtable((from_clixml(k), from_clixml(v)) for k, v in value.items())
    if isinstance(value, list):
        return [from_clixml(v) for v in value]
    if isinstance(value, ClixmlObject):
        return _object_from_clixml(value)
    raise TypeError(f"the sandbox host cannot read a {type(value).__name__} value from the client")


def _object_from_clixml(value: ClixmlObject) -> PSObject:
    meta = value.PSObject
    properties = [
        (prop.name, from_clixml(prop.get_value(value)))
        for prop in [*meta.adapted_properties, *meta.extended_properties]
    ]
    type_names = [t.removeprefix(_DESERIALIZED) for t in meta.type_names]
    to_string = meta.to_string
    return PSObject(properties, type_names=type_names or ["System.Object"], to_string=to_string)

