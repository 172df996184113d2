"""Parameter values typed on the command line (``--param KEY=VALUE``), typed as a
template's metadata declares them, and the required ones still missing.

Kept apart from the catalog and the rendering (:mod:`toolkit.core.templates`): it reads
only what the metadata (:mod:`toolkit.core.template_meta`) declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from toolkit.core.errors import TemplateError
from toolkit.core.template_meta import TemplateMeta

_TRUE = {"true", "yes", "1", "on", "$true"}
_FALSE = {"false", "no", "0", "off", "$false"}


def coerce_param_values(meta: TemplateMeta, raw: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``--param KEY=VALUE`` strings into typed values following the metadata.

    Names match case-insensitively, as in PowerShell. Secrets and rows are refused here:
    secrets are never typed on a command line, and rows come from a CSV file.
    """
    import datetime as dt
    import uuid

    by_lower = {name.lower(): spec for name, spec in meta.params.items()}
    values: dict[str, Any] = {}
    for key, text in raw.items():
        spec = by_lower.get(key.lower())
        if spec is None:
            known = ", ".join(meta.params) or "none"
            raise TemplateError(
                f"template {meta.name} has no parameter {key!r} (its parameters: {known})"
            )
        if spec.type in ("secret", "rows"):
            reason = "is a secret" if spec.secret else "takes rows from a CSV file (--csv)"
            raise TemplateError(f"parameter {spec.name} {reason}; it cannot be set with --param")
        try:
            values[spec.name] = _coerce(spec.type, text, dt, uuid)
        except ValueError:
            raise TemplateError(
                f"parameter {spec.name} expects {spec.type}, got {text!r}"
            ) from None
    for spec in meta.params.values():
        if spec.name not in values and spec.default is not None:
            values[spec.name] = spec.default
    return values


def missing_required(meta: TemplateMeta, values: Mapping[str, Any]) -> list[str]:
    """Required parameters with no value (secrets excluded: they are prompted for)."""
    return [
        p.name for p in meta.params.values()
        if p.required and not p.secret and p.name not in values
    ]


def _coerce(ptype: str, text: str, dt: Any, uuid: Any) -> Any:
    if ptype == "string":
        return text
    if ptype == "string[]":
        return [part.strip() for part in text.split(",") if part.strip()]
    if ptype == "int":
        return int(text)
    if ptype in ("bool", "switch"):
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(text)
    if ptype == "guid":
        return uuid.UUID(text)
    if ptype == "datetime":
        return dt.datetime.fromisoformat(text)
    if ptype == "bytes":
        return text.encode("utf-8")
    raise ValueError(text)
