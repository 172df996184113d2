"""Template metadata: the block a template opens with, parsed and checked.

A template opens with a metadata block, a Jinja comment holding YAML::

    {#- psbridge
    name: exchange/mailbox-protocols
    summary: Switch POP and IMAP client access per mailbox
    role: admin            # helpdesk | admin
    mutates: true
    services: [exchange]   # exchange, graph
    params:
      Rows: {type: rows, required: true, description: One row per mailbox}
    row_columns: [Mailbox, Pop, Imap]
    -#}

Kept apart from the catalog and the rendering (:mod:`toolkit.core.templates`): what a
template declares is read without Jinja.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from toolkit.core.errors import TemplateError
from toolkit.core.script_services import ONE_SERVICE_WHY, SPLIT

CONNECT_PREFIX = "_connect/"
# Where a _connect/ step's parameter takes its value, given by the code that runs the step:
# the service's access token, the tenant it was issued in, the cloud's environment name for
# the service (outside the global cloud only), true to replace a connection whose token is
# about to expire, the module names the host check looks for.
STEP_SOURCES = ("token", "tenant", "cloud", "renew", "modules")
ROLES = ("helpdesk", "admin")
SERVICES = ("exchange", "graph")
PARAM_TYPES = (
    "string",
    "string[]",
    "int",
    "bool",
    "switch",
    "guid",
    "datetime",
    "secret",
    "bytes",
    "rows",
)
_META_RE = re.compile(r"\A\{#-?\s*psbridge[ \t]*\r?\n(?P<body>.*?)-?#\}", re.DOTALL)
_META_KEYS = {"name", "summary", "role", "mutates", "services", "params", "row_columns",
              "secret_columns", "connects"}
_PARAM_KEYS = {"type", "required", "description", "default", "source"}
NOT_SHOWN = "<secret, not shown>"


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str
    required: bool = False
    description: str = ""
    default: Any = None
    source: str | None = None  # a _connect/ step's: one of STEP_SOURCES

    @property
    def secret(self) -> bool:
        return self.type == "secret"


@dataclass(frozen=True)
class TemplateMeta:
    """What a template declares about itself; drives ``task list`` and ``task run``."""

    name: str
    summary: str
    role: str
    mutates: bool
    services: tuple[str, ...]
    params: Mapping[str, ParamSpec]
    row_columns: tuple[str, ...] = ()
    secret_columns: tuple[str, ...] = ()
    connects: str | None = None  # a _connect/ step's: the service it connects
    origin: str = "built-in"  # "built-in" or the user folder that holds it
    path: str = ""

    @property
    def row_param(self) -> ParamSpec | None:
        """The parameter of type ``rows``, for row-driven templates."""
        return next((p for p in self.params.values() if p.type == "rows"), None)

    def shown(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` (the parameters of one run, or one row) fit for a log line: what the
        template declares secret (parameters of type ``secret``, ``secret_columns``) is
        masked. Declared by type, so a new secret parameter is masked without a name list."""
        hidden = {p.name.casefold() for p in self.params.values() if p.secret}
        hidden |= {c.casefold() for c in self.secret_columns}
        return {k: NOT_SHOWN if k.casefold() in hidden else v for k, v in values.items()}


def parse_metadata(source: str, *, name: str, path: str, origin: str) -> TemplateMeta:
    """Parse and validate the metadata block; errors name the file and the key."""
    match = _META_RE.match(source.lstrip("\ufeff"))
    if not match:
        raise TemplateError(
            f"{path}: no metadata block; a template must start with '{{#- psbridge' "
            "followed by YAML and '-#}'",
            hint="See 'Writing templates' in the README.",
        )
    try:
        data = yaml.safe_load(match.group("body"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 2}" if mark is not None else ""
        raise TemplateError(f"{path}:{where} metadata is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: metadata must be a YAML mapping")

    def fail(key: str, problem: str) -> TemplateError:
        return TemplateError(f"{path}: metadata key '{key}': {problem}")

    unknown = sorted(set(data) - _META_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (known: {', '.join(sorted(_META_KEYS))})")
    for key in ("name", "summary", "role", "mutates"):
        if key not in data:
            raise fail(key, "is required")
    if data["name"] != name:
        raise fail("name", f"is {data['name']!r} but the file's path makes it {name!r}")
    if not isinstance(data["summary"], str) or not data["summary"].strip():
        raise fail("summary", "must be a non-empty string")
    if data["role"] not in ROLES:
        raise fail("role", f"must be one of {', '.join(ROLES)}, not {data['role']!r}")
    if not isinstance(data["mutates"], bool):
        raise fail("mutates", "must be true or false")
    services = data.get("services", [])
    if not isinstance(services, list) or any(s not in SERVICES for s in services):
        raise fail("services", f"must be a list drawn from {', '.join(SERVICES)}")
    if len(set(services)) > 1:
        raise fail("services", f"lists {' and '.join(services)}: a template runs in one "
                   f"runspace, which holds one service ({ONE_SERVICE_WHY}); {SPLIT}")
    step = name.startswith(CONNECT_PREFIX)
    connects = data.get("connects")
    if connects is not None and not step:
        raise fail("connects", f"only a {CONNECT_PREFIX} step connects a service")
    if connects is not None and connects not in SERVICES:
        raise fail("connects", f"must be one of {', '.join(SERVICES)}, not {connects!r}")

    params: dict[str, ParamSpec] = {}
    raw_params = data.get("params") or {}
    if not isinstance(raw_params, dict):
        raise fail("params", "must be a mapping of parameter name to its settings")
    for pname, settings in raw_params.items():
        key = f"params.{pname}"
        if not isinstance(pname, str) or not pname.isidentifier():
            raise fail(key, "a parameter name must be a PowerShell identifier")
        if not isinstance(settings, dict):
            raise fail(key, "must be a mapping with at least 'type'")
        bad = sorted(set(settings) - _PARAM_KEYS)
        if bad:
            raise fail(f"{key}.{bad[0]}", f"unknown key (known: {', '.join(sorted(_PARAM_KEYS))})")
        ptype = settings.get("type")
        if ptype not in PARAM_TYPES:
            raise fail(f"{key}.type", f"must be one of {', '.join(PARAM_TYPES)}, not {ptype!r}")
        required = settings.get("required", False)
        if not isinstance(required, bool):
            raise fail(f"{key}.required", "must be true or false")
        value_source = settings.get("source")
        if step and value_source not in STEP_SOURCES:
            raise fail(f"{key}.source", f"a {CONNECT_PREFIX} step's parameter needs one of "
                       f"{', '.join(STEP_SOURCES)}, not {value_source!r}")
        if not step and value_source is not None:
            raise fail(f"{key}.source", f"only {CONNECT_PREFIX} steps' parameters have one; a "
                       "task's come from --param or its rows")
        params[pname] = ParamSpec(
            name=pname,
            type=ptype,
            required=required,
            description=str(settings.get("description", "")),
            default=settings.get("default"),
            source=value_source,
        )

    row_columns = _string_list(data, "row_columns", fail)
    secret_columns = _string_list(data, "secret_columns", fail)
    has_rows = any(p.type == "rows" for p in params.values())
    if has_rows and not row_columns:
        raise fail("row_columns", "is required when a parameter has type 'rows'")
    if row_columns and not has_rows:
        raise fail("row_columns", "needs a parameter of type 'rows' to describe")
    if sum(p.type == "rows" for p in params.values()) > 1:
        raise fail("params", "at most one parameter may have type 'rows'")
    stray = [c for c in secret_columns if c not in row_columns]
    if stray:
        raise fail("secret_columns", f"{stray[0]!r} is not one of row_columns")

    return TemplateMeta(
        name=name,
        summary=data["summary"].strip(),
        role=data["role"],
        mutates=data["mutates"],
        services=tuple(services),
        params=params,
        row_columns=tuple(row_columns),
        secret_columns=tuple(secret_columns),
        connects=connects,
        origin=origin,
        path=path,
    )


def step_parameters(meta: TemplateMeta, sources: Mapping[str, Any]) -> dict[str, Any]:
    """The parameter values of a ``_connect/`` step, each from the source its metadata names.

    ``sources`` holds what the caller has for each source; a parameter whose source has no
    value (None) is left out, so the script's own default applies.
    """
    values: dict[str, Any] = {}
    for spec in meta.params.values():
        if spec.source is None or spec.source not in sources:
            raise TemplateError(
                f"{meta.path}: parameter {spec.name} takes its value from {spec.source!r}, "
                f"which is not given when {meta.name} runs (given: {', '.join(sources)})")
        value = sources[spec.source]
        if value is not None:
            values[spec.name] = value
    return values


def _string_list(
    data: Mapping[str, Any], key: str, fail: Callable[[str, str], TemplateError]
) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(key, "must be a list of column names")
    return value
