"""JSON round trip of the model's dataclasses, driven by their type hints.

The model only uses primitives, ``X | None``, ``list[X]``, ``dict[str, X]`` and nested
dataclasses, which is all this decoder understands; anything else is a programming error.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


_PLAIN = (str, int, float, bool, type(None))


def to_jsonable(obj: Any) -> Any:
    """Like ``dataclasses.asdict`` without its deep copies (twice as fast on big worlds)."""
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    if kind is list:
        return [to_jsonable(value) for value in obj]
    if kind is dict:
        return {key: to_jsonable(value) for key, value in obj.items()}
    if dataclasses.is_dataclass(obj):
        return {key: to_jsonable(value) for key, value in vars(obj).items()}
    raise TypeError(f"cannot store {kind.__name__} in the sandbox state")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_jsonable(cls: type[T], data: Any) -> T:
    return typing.cast(T, _decode(cls, data))


def _decode(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _decode(inner, data)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_decode(item, value) for value in data]
    if origin is dict:
        _, item = typing.get_args(tp)
        return {key: _decode(item, value) for key, value in data.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(data, str):  # a state saved when this was a plain string (partners)
            return typing.cast(Any, tp)(data)
        hints = _hints(tp)
        known = {f.name for f in dataclasses.fields(tp) if f.init}
        return tp(**{k: _decode(hints[k], v) for k, v in data.items() if k in known})
    if tp is float and isinstance(data, int):
        return float(data)
    return data
