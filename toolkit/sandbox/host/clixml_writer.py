"""A fast CLIXML writer for the common output values of a pipeline.

psrpcore builds a full object model per value before serializing it, which costs about
0.2 ms for a small object; a bulk read of 10,000 mailboxes then spends seconds on the
server. Output made of strings, numbers, booleans, dates, GUIDs, byte arrays, lists,
hashtables and :class:`PSObject` trees is written here directly as text, producing the
same CLIXML as psrpcore (tests/sandbox/host compare both through pypsrp's deserializer),
except that ``ToString`` is escaped like any string, as PowerShell does.
Anything else (SecureString, error records, durations) returns None and goes through
psrpcore as before.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import enum
import re
import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from toolkit.sandbox.host.clixml_values import ARRAY_TYPES
from toolkit.sandbox.values import PSObject

HASHTABLE_TYPES = ["System.Collections.Hashtable", "System.Object"]
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# [MS-PSRP] 2.2.5.1.1: "_x" is escaped so it is not read as an escape, then C0/C1 controls
# and characters outside the BMP are written as _xHHHH_ UTF-16 code units (as psrpcore does).
_ESCAPE_ESCAPE = re.compile("(?i)_(x)")
_ESCAPE = re.compile("[\u0000-\u001f\u007f-\u009f\ud800-\udfff\U00010000-\U0010ffff]")


class _Unsupported(Exception):
    """The value needs psrpcore's serializer."""


def _code_units(match: re.Match[str]) -> str:
    encoded = match.group(0).encode("utf-16-be", errors="surrogatepass").hex().upper()
    return "".join(f"_x{encoded[i:i + 4]}_" for i in range(0, len(encoded), 4))


def _psrp_escape(value: str) -> str:
    if "_" in value:
        value = _ESCAPE_ESCAPE.sub("_x005F_\\1", value)
    return _ESCAPE.sub(_code_units, value)


def clixml_string(value: str) -> str:
    """A string as CLIXML element text: PSRP escapes, then XML escapes."""
    return escape(_psrp_escape(value))


def _name_attribute(name: str | None) -> str:
    return "" if name is None else f" N={quoteattr(_psrp_escape(name))}"


def _datetime(value: datetime.datetime) -> str:
    fraction = value.strftime(".%f") if value.microsecond else ""
    zone = ""
    if value.tzinfo == datetime.UTC:
        zone = "Z"
    elif value.tzinfo is not None:
        offset = value.strftime("%z")
        zone = f"{offset[:3]}:{offset[3:]}"
    return value.strftime(f"%Y-%m-%dT%H:%M:%S{fraction}{zone}")


class _Writer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self._next_ref = 0
        self._type_refs: dict[str, int] = {}

    def _primitive(self, tag: str, text: str, name: str | None) -> None:
        attribute = _name_attribute(name)
        self.parts.append(f"<{tag}{attribute}>{text}</{tag}>" if text else f"<{tag}{attribute} />")

    def _open_object(self, type_names: list[str], name: str | None) -> None:
        attribute = _name_attribute(name)
        ref = self._next_ref
        self._next_ref += 1
        self.parts.append(f'<Obj RefId="{ref}"{attribute}>')
        main = type_names[0]
        if main in self._type_refs:
            self.parts.append(f'<TNRef RefId="{self._type_refs[main]}" />')
            return
        self._type_refs[main] = len(self._type_refs)
        names = "".join(f"<T>{escape(t)}</T>" for t in type_names)
        self.parts.append(f'<TN RefId="{self._type_refs[main]}">{names}</TN>')

    def write(self, value: Any, name: str | None = None) -> None:
        if value is None:
            self._primitive("Nil", "", name)
        elif isinstance(value, bool):
            self._primitive("B", "true" if value else "false", name)
        elif isinstance(value, enum.Enum):  # as clixml_values.to_clixml: by name
            self._primitive("S", clixml_string(value.name), name)
        elif isinstance(value, str):
            self._primitive("S", clixml_string(value), name)
        elif isinstance(value, int):
            tag = "I32" if _INT32_MIN <= value <= _INT32_MAX else "I64"
            self._primitive(tag, str(value), name)
        elif isinstance(value, float):
            self._primitive("Db", str(value).upper(), name)
        elif isinstance(value, decimal.Decimal):
            self._primitive("D", str(value), name)
        elif isinstance(value, datetime.datetime):
            self._primitive("DT", _datetime(value), name)
        elif isinstance(value, uuid.UUID):
            self._primitive("G", str(value), name)
        elif isinstance(value, (bytes, bytearray)):
            self._primitive("BA", base64.b64encode(value).decode(), name)
        elif isinstance(value, PSObject):
            self._object(value, name)
        elif isinstance(value, Mapping):
            self._open_object(HASHTABLE_TYPES, name)
            self.parts.append("<DCT>")
            for key, item in value.items():
                self.parts.append("<En>")
                self.write(key, "Key")
                self.write(item, "Value")
                self.parts.append("</En>")
            self.parts.append("</DCT></Obj>")
        elif isinstance(value, (list, tuple)):
            self._open_object(ARRAY_TYPES, name)
            self.parts.append("<LST>")
            for item in value:
                self.write(item)
            self.parts.append("</LST></Obj>")
        else:
            raise _Unsupported()

    def _object(self, value: PSObject, name: str | None) -> None:
        self._open_object(value.type_names or ["System.Object"], name)
        if value.properties:
            self.parts.append("<MS>")
            for prop, item in value.properties.items():
                self.write(item, prop)
            self.parts.append("</MS>")
        if value.to_string is not None:
            self.parts.append(f"<ToString>{clixml_string(value.to_string)}</ToString>")
        self.parts.append("</Obj>")


def fast_clixml(value: Any) -> bytes | None:
    """The CLIXML of ``value``, or None when psrpcore must serialize it."""
    writer = _Writer()
    try:
        writer.write(value)
    except _Unsupported:
        return None
    return "".join(writer.parts).encode()
