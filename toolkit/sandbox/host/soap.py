"""Reading WSMan request envelopes and writing response and fault envelopes.

Responses are assembled as text (escaped) rather than through ElementTree: it is the hot
path of every Receive, and the shapes are fixed.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from toolkit.sandbox.host.faults import INVALID_SELECTORS, WSManFault, invalid_message

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "n": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
    "ps": "http://schemas.microsoft.com/powershell",
}
_XMLNS = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())
_ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
DEFAULT_OPERATION_TIMEOUT = 60.0
DEFAULT_MAX_ENVELOPE_SIZE = 153600


@dataclass
class WSManRequest:
    """The parts of a request envelope the host acts on."""

    action: str
    message_id: str
    resource_uri: str
    body: ET.Element
    to: str = ""
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    operation_timeout: float = DEFAULT_OPERATION_TIMEOUT
    max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE

    def find(self, path: str) -> ET.Element | None:
        return self.body.find(path, NS)


def parse_duration(text: str) -> float:
    """Seconds in an xs:duration such as ``PT20S`` or ``PT7200.000S``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise invalid_message(f"invalid duration {text!r}")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return (
        parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60
        + parts.get("s", 0)
    )


def format_duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def parse_request(data: bytes) -> WSManRequest:
    try:
        envelope = ET.fromstring(data)
    except ET.ParseError as error:
        raise invalid_message(f"the body is not XML ({error})") from None
    header = envelope.find("s:Header", NS)
    body = envelope.find("s:Body", NS)
    if header is None or body is None:
        raise invalid_message("the SOAP envelope has no Header or Body")

    def text(path: str) -> str:
        element = header.find(path, NS)
        return (element.text or "").strip() if element is not None else ""

    request = WSManRequest(
        action=text("a:Action"),
        message_id=text("a:MessageID"),
        resource_uri=text("w:ResourceURI"),
        body=body,
        to=text("a:To"),
    )
    if not request.action or not request.message_id:
        raise invalid_message("the request has no Action or MessageID")
    for selector in header.iterfind("w:SelectorSet/w:Selector", NS):
        request.selectors[selector.get("Name", "")] = (selector.text or "").strip()
    for option in header.iterfind("w:OptionSet/w:Option", NS):
        request.options[option.get("Name", "")] = (option.text or "").strip()
    timeout = text("w:OperationTimeout")
    if timeout:
        request.operation_timeout = parse_duration(timeout)
    envelope_size = text("w:MaxEnvelopeSize")
    if envelope_size.isdigit():
        request.max_envelope_size = int(envelope_size)
    return request


def response(action: str, relates_to: str, body: str) -> bytes:
    """A response envelope; ``body`` is the already-serialized content of ``s:Body``."""
    return (
        f'<s:Envelope xml:lang="en-US" {_XMLNS}><s:Header>'
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{_ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault(fault: WSManFault, relates_to: str, machine: str) -> bytes:
    body = (
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value>"
        f"<s:Subcode><s:Value>{escape(fault.subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.message)}</s:Text></s:Reason>'
        f"<s:Detail><f:WSManFault Code={quoteattr(str(fault.code))} Machine={quoteattr(machine)}>"
        f"<f:Message>{escape(fault.message)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return response(FAULT_ACTION, relates_to, body)


def element(tag: str, text: str = "", **attributes: str) -> str:
    """``<tag attr="...">text</tag>`` with the text and attributes escaped."""
    attrs = "".join(f" {name}={quoteattr(value)}" for name, value in attributes.items())
    return f"<{tag}{attrs}>{escape(text)}</{tag}>" if text else f"<{tag}{attrs}/>"


def require_selector(request: WSManRequest, name: str) -> str:
    value = request.selectors.get(name)
    if not value:
        message = f"The request needs the {name} selector."
        raise WSManFault(INVALID_SELECTORS, message, "w:InvalidSelectors")
    return value
