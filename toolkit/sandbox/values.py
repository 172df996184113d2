"""The values that cross between the sandbox's PSRP host and its PowerShell engine.

The engine works on plain Python values plus the few classes below; the host converts
them to and from psrpcore's CLIXML types. Keeping this model free of psrpcore lets the
interpreter and the tenant emulation be tested without any transport.

Mapping (engine value -> what the client deserializes):

- ``str``, ``int``, ``float``, ``bool``, ``None``, ``datetime``, ``uuid.UUID``,
  ``decimal.Decimal``, ``bytes`` (``byte[]``): the matching primitive;
- ``list`` / ``tuple``: ``System.Object[]``;
- :class:`Hashtable`: ``System.Collections.Hashtable`` (case-insensitive keys);
- :class:`PSObject`: an object with ordered, case-insensitive properties and type names;
- :class:`SecureString`: ``System.Security.SecureString`` (never printed in clear).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PSCUSTOMOBJECT_TYPES = ("System.Management.Automation.PSCustomObject", "System.Object")


class Layout:
    """The property names of an object shape, case-folded once: emulated cmdlets build
    the same shape thousands of times per call (see :meth:`PSObject.from_layout`)."""

    __slots__ = ("folded", "names")

    def __init__(self, *names: str):
        self.names = names
        self.folded = tuple(name.casefold() for name in names)
        if len(set(self.folded)) != len(names):
            raise ValueError(f"duplicate property names in {names!r}")

    def entries(self, values: Sequence[Any]) -> dict[Any, tuple[Any, Any]]:
        """The storage of a :class:`CaseInsensitiveDict` mapping these names to ``values``."""
        if len(values) != len(self.names):  # checked once: zip(strict=True) costs per item
            raise ValueError(f"{len(values)} values for {len(self.names)} names")
        return dict(zip(self.folded, zip(self.names, values, strict=False), strict=False))


class CaseInsensitiveDict(MutableMapping[str, Any]):
    """An insertion-ordered mapping whose string keys compare case-insensitively.

    The spelling of the first insertion is kept, as PowerShell does.
    """

    __slots__ = ("_data",)

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None):
        self._data: dict[Any, tuple[Any, Any]] = {}
        if items is not None:
            # __setitem__ inlined: every emulated object is built here (a 30,000-mailbox
            # audit builds millions of properties), and two calls per property showed.
            data = self._data
            pairs = items.items() if isinstance(items, Mapping) else items
            for key, value in pairs:
                folded = key.casefold() if isinstance(key, str) else key
                existing = data.get(folded)
                data[folded] = (existing[0] if existing else key, value)

    @staticmethod
    def _fold(key: Any) -> Any:
        return key.casefold() if isinstance(key, str) else key

    # _fold is inlined in the hot methods below: the engine reads and writes every
    # property and hashtable entry through them.
    def __getitem__(self, key: Any) -> Any:
        return self._data[key.casefold() if isinstance(key, str) else key][1]

    def __setitem__(self, key: Any, value: Any) -> None:
        folded = key.casefold() if isinstance(key, str) else key
        existing = self._data.get(folded)
        self._data[folded] = (existing[0] if existing else key, value)

    def get(self, key: Any, default: Any = None) -> Any:
        found = self._data.get(key.casefold() if isinstance(key, str) else key)
        return default if found is None else found[1]

    def get_folded(self, folded: Any, default: Any = None) -> Any:
        """``get`` for a key the caller already case-folded (hot member reads)."""
        found = self._data.get(folded)
        return default if found is None else found[1]

    @classmethod
    def from_layout(cls, layout: Layout, values: Sequence[Any]) -> CaseInsensitiveDict:
        """The mapping of ``layout``'s names to ``values``, with no per-key folding."""
        new = cls.__new__(cls)
        new._data = layout.entries(values)
        return new

    def __delitem__(self, key: Any) -> None:
        del self._data[self._fold(key)]

    def __iter__(self) -> Iterator[Any]:
        return (original for original, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return (key.casefold() if isinstance(key, str) else key) in self._data

    def original_key(self, key: Any) -> Any:
        """The key as first spelled."""
        return self._data[self._fold(key)][0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented


class Hashtable(CaseInsensitiveDict):
    """A PowerShell ``@{}`` (or ``[ordered]@{}`` when ``ordered`` is true)."""

    __slots__ = ("ordered",)

    def __init__(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        *,
        ordered: bool = False,
    ):
        super().__init__(items)
        self.ordered = ordered

    @classmethod
    def from_layout(cls, layout: Layout, values: Sequence[Any], *,
                    ordered: bool = False) -> Hashtable:
        table = cls.__new__(cls)
        table._data = layout.entries(values)
        table.ordered = ordered
        return table


class PSObject:
    """A PowerShell object: type names (most derived first) and ordered properties."""

    __slots__ = ("properties", "to_string", "type_names")

    def __init__(
        self,
        properties: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        type_names: Iterable[str] = PSCUSTOMOBJECT_TYPES,
        to_string: str | None = None,
    ):
        self.properties = CaseInsensitiveDict(properties)
        self.type_names = list(type_names)
        self.to_string = to_string

    @classmethod
    def from_layout(cls, layout: Layout, values: Sequence[Any],
                    type_names: Iterable[str] = PSCUSTOMOBJECT_TYPES) -> PSObject:
        """``PSObject(zip(layout.names, values), type_names)``, without folding each name."""
        obj = cls.__new__(cls)
        obj.properties = CaseInsensitiveDict.from_layout(layout, values)
        obj.type_names = list(type_names)
        obj.to_string = None
        return obj

    def __getitem__(self, name: str) -> Any:
        return self.properties[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.properties.get(name, default)

    def __repr__(self) -> str:
        return f"PSObject({self.type_names[0]!r}, {dict(self.properties.items())!r})"


class SecureString:
    """A ``SecureString``: its clear text is reachable only through :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecureString(****)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecureString) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("SecureString", self._value))


@dataclass
class ErrorRecord:
    """A PowerShell error record, terminating or not.

    ``exception_type`` is the .NET exception type name the client sees (for example
    ``Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException``);
    ``category`` is an ``ErrorCategory`` name such as ``ObjectNotFound``.
    """

    message: str
    fully_qualified_error_id: str
    category: str = "NotSpecified"
    exception_type: str = "System.Management.Automation.RuntimeException"
    target_object: Any = None
    command_name: str | None = None
    script_line: int | None = None
    reason: str | None = None


@dataclass
class InformationRecord:
    message_data: Any
    source: str = ""
    tags: list[str] = field(default_factory=list)
