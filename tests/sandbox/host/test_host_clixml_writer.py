"""The fast CLIXML writer produces what psrpcore would, as pypsrp reads it."""

from __future__ import annotations

import datetime
import decimal
import enum
import string
import uuid
from typing import Any
from xml.etree import ElementTree

from hypothesis import given, settings
from hypothesis import strategies as st
from psrpcore.types import serialize
from pypsrp.complex_objects import GenericComplexObject
from pypsrp.serializer import Serializer

from toolkit.sandbox.host.clixml_values import to_clixml
from toolkit.sandbox.host.clixml_writer import fast_clixml
from toolkit.sandbox.values import Hashtable, PSObject, SecureString


def read(clixml: str) -> Any:
    try:
        return normal(Serializer().deserialize(clixml))
    except KeyError as error:  # pypsrp loses TN references in some nested lists
        return ("pypsrp cannot read this", repr(error))


def normal(value: Any) -> Any:
    """pypsrp's result, comparable with ==."""
    if isinstance(value, GenericComplexObject):
        return ("object", value.types, normal(value.extended_properties),
                normal(value.adapted_properties), value.to_string)
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normal(v) for v in value]
    return value


def by_psrpcore(value: Any) -> Any:
    return read(ElementTree.tostring(serialize(to_clixml(value), None)).decode())


def by_writer(value: Any) -> Any:
    written = fast_clixml(value)
    assert written is not None
    return read(written.decode())


texts = st.text(st.characters(codec="utf-8"), max_size=20) | st.sampled_from(
    ["_x0041_", "_X", "a\r\nb", "<&>\"'", "tab\there", "\x00\x1f\x7f\x9f", "emoji \U0001F600"]
)
scalars = (
    st.none() | st.booleans() | texts
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.uuids()
    | st.binary(min_size=1, max_size=16)  # pypsrp cannot read an empty byte[]
    | st.datetimes(min_value=datetime.datetime(1900, 1, 1),
                   timezones=st.none() | st.just(datetime.UTC))
)
type_names = st.text(string.ascii_letters + "._`[]", min_size=1, max_size=12)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6), inner, max_size=3).map(Hashtable)
        | st.builds(
            PSObject,
            st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
            st.lists(type_names, max_size=2).map(lambda names: [*names, "System.Object"]),
            st.none() | type_names,  # psrpcore writes ToString without PSRP escapes
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_writer_matches_psrpcore(value: Any) -> None:
    assert by_writer(value) == by_psrpcore(value)


class Rights(enum.IntEnum):
    FullAccess = 1


def test_named_examples() -> None:
    assert by_writer(Rights.FullAccess) == by_psrpcore(Rights.FullAccess) == "FullAccess"
    sample = PSObject(
        {"Name": "Adele _x0041_", "Seats": 2**40, "Price": decimal.Decimal("9.99"),
         "Id": uuid.UUID(int=3), "When": datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
         "Table": Hashtable({"Add": ["a", "b"]}), "Nested": PSObject({"X": 1})},
        type_names=["Contoso.Mailbox", "System.Object"], to_string="adele",
    )
    assert by_writer(sample) == by_psrpcore(sample)


def test_to_string_is_escaped_like_any_string() -> None:
    written = fast_clixml(PSObject({}, to_string="a_x0041_\n"))
    assert written is not None
    assert Serializer().deserialize(written.decode()).to_string == "a_x0041_\n"


def test_values_psrpcore_must_handle_are_declined() -> None:
    assert fast_clixml(SecureString("x")) is None
    assert fast_clixml([1, datetime.timedelta(seconds=1)]) is None
    assert fast_clixml(PSObject({"Secret": SecureString("x")})) is None
