"""Conversion between engine values and psrpcore CLIXML values, without a network."""

from __future__ import annotations

import datetime
import decimal
import uuid
from xml.etree import ElementTree

import pytest
from psrpcore.types import (
    ErrorCategory,
    PSChar,
    PSCredential,
    PSCustomObject,
    PSSecureString,
    deserialize,
    serialize,
)
from pypsrp.serializer import Serializer

from toolkit.sandbox.host.clixml_values import error_record_to_clixml, from_clixml, to_clixml
from toolkit.sandbox.values import ErrorRecord, Hashtable, PSObject, SecureString


def through_the_wire(value: object) -> object:
    """Serialize with psrpcore (the host) and deserialize with pypsrp (the client)."""
    element = serialize(to_clixml(value), None)
    return Serializer().deserialize(ElementTree.tostring(element).decode())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (7, 7),
        (2**40, 2**40),
        (-(2**40), -(2**40)),
        (0.25, 0.25),
        ("text & <xml>", "text & <xml>"),
        (b"\x00\xff", b"\x00\xff"),
        (uuid.UUID(int=5), uuid.UUID(int=5)),
        ([1, "a"], [1, "a"]),
        ((1, 2), [1, 2]),
        (Hashtable({"Add": "x"}), {"Add": "x"}),
    ],
)
def test_primitives_reach_pypsrp_unchanged(value: object, expected: object) -> None:
    assert through_the_wire(value) == expected


def test_decimal_and_datetime_keep_their_dotnet_types() -> None:
    assert through_the_wire(decimal.Decimal("1.5")) == "1.5"
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert through_the_wire(when) == "2024-01-02T03:04:05Z"


def test_psobject_keeps_type_names_properties_and_to_string() -> None:
    obj = PSObject({"User": "adele", "Rights": ["FullAccess"]},
                   type_names=["Deserialized.Exchange.Permission", "System.Object"],
                   to_string="adele: FullAccess")
    received = through_the_wire(obj)
    assert received.types == ["Deserialized.Exchange.Permission", "System.Object"]
    assert received.extended_properties == {"User": "adele", "Rights": ["FullAccess"]}
    assert str(received) == "adele: FullAccess"


def test_unknown_values_are_refused_loudly() -> None:
    with pytest.raises(TypeError, match="cannot send a object"):
        to_clixml(object())
    with pytest.raises(TypeError, match="cannot read"):
        from_clixml(object())


def test_error_record_fields() -> None:
    record = ErrorRecord("Nope.", "Denied,Set-Mailbox", category="PermissionDenied",
                         exception_type="System.UnauthorizedAccessException",
                         target_object=3, command_name="Set-Mailbox")
    clixml = error_record_to_clixml(record)
    assert clixml.Exception.Message == "Nope."
    assert clixml.Exception.PSTypeNames[0] == "System.UnauthorizedAccessException"
    assert clixml.CategoryInfo.Category == ErrorCategory.PermissionDenied
    assert (clixml.CategoryInfo.TargetName, clixml.CategoryInfo.TargetType) == ("3", "Int32")
    assert clixml.CategoryInfo.Activity == "Set-Mailbox"
    assert clixml.FullyQualifiedErrorId == "Denied,Set-Mailbox"
    unknown = error_record_to_clixml(ErrorRecord("x", "y", category="NoSuchCategory"))
    assert unknown.CategoryInfo.Category == ErrorCategory.NotSpecified


def test_values_from_the_client_become_engine_values() -> None:
    custom = PSCustomObject(Name="adele")
    custom.PSObject.type_names = ["Deserialized.Contoso.User", "Deserialized.System.Object"]
    parsed = from_clixml(custom)
    assert isinstance(parsed, PSObject)
    assert parsed.type_names == ["Contoso.User", "System.Object"]
    assert parsed["NAME"] == "adele"
    assert from_clixml(PSChar("a")) == "a"
    assert from_clixml(ErrorCategory.ObjectNotFound) == "ObjectNotFound"
    credential = from_clixml(PSCredential(UserName="u", Password=PSSecureString("p")))
    assert credential["UserName"] == "u" and credential["Password"] == SecureString("p")


def test_round_trip_through_psrpcore_keeps_engine_values() -> None:
    sample = Hashtable({"list": [1, "two"], "when": datetime.datetime(2024, 1, 1),
                        "id": uuid.UUID(int=9), "bytes": b"x", "flag": False})
    element = serialize(to_clixml(sample), None)
    back = from_clixml(deserialize(element, None))
    assert isinstance(back, Hashtable)
    assert back["LIST"] == [1, "two"]
    assert back["id"] == uuid.UUID(int=9) and back["bytes"] == b"x" and back["flag"] is False
    assert back["when"].replace(tzinfo=None) == datetime.datetime(2024, 1, 1)
