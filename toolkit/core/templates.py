"""Templates: metadata, lookup (user folder over built-ins), safe rendering and export.

A template is a ``.ps1.j2`` file whose name is its path under a templates folder without
the suffix (``exchange/list-mailboxes``). It opens with a metadata block, a Jinja comment
holding YAML::

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

The rendered script declares ``param(...)`` and receives every value as a PSRP parameter.
Jinja only shapes structure: the environment's ``finalize`` refuses to print any value that
did not pass through the ``|ps`` quoting filter, so a stray ``{{ row.name }}`` fails at
render time instead of becoming an injection.

Two folders hold no tasks (``task list`` skips them, ``task run`` refuses them):

- ``_connect/``: steps psbridge runs itself to connect or check a session. Their metadata
  is a task's plus ``connects`` (the service a connect step connects) and, on every
  parameter, ``source``: where the code that runs the step takes the value (see
  :data:`STEP_SOURCES` and :func:`step_parameters`).
- ``_include/``: fragments only other templates include (``{% include
  '_include/row-result.ps1.j2' %}``); they have no metadata block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from toolkit.core import paths
from toolkit.core.errors import TemplateError
from toolkit.core.quoting import PSLiteral, UnquotableValue, ps_quote
from toolkit.core.script_services import ONE_SERVICE_WHY, SPLIT, parse, service_problems
from toolkit.core.sids import ORPHAN_SID_PATTERN

SUFFIX = ".ps1.j2"
CONNECT_PREFIX = "_connect/"
INCLUDE_PREFIX = "_include/"
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


@dataclass(frozen=True)
class RenderedScript:
    meta: TemplateMeta
    script: str


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


class _Source:
    """One templates folder: the user's override folder or the built-in package data."""

    def __init__(self, root: Traversable, origin: str):
        self.root = root
        self.origin = origin

    def find(self, name: str) -> Traversable | None:
        node = self.root
        for part in f"{name}{SUFFIX}".split("/"):
            node = node.joinpath(part)
        return node if node.is_file() else None

    def names(self) -> Iterator[str]:
        def walk(node: Traversable, prefix: str) -> Iterator[str]:
            for child in node.iterdir():
                if child.is_dir():
                    yield from walk(child, f"{prefix}{child.name}/")
                elif child.name.endswith(SUFFIX):
                    yield prefix + child.name[: -len(SUFFIX)]

        if self.root.is_dir():
            yield from walk(self.root, "")


def _refuse_unquoted(value: Any) -> Any:
    """Jinja ``finalize``: only ``|ps`` output may reach the script text."""
    if isinstance(value, PSLiteral):
        return value
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()  # StrictUndefined: name the missing variable
    raise TemplateError(
        f"a template printed {type(value).__name__} value without the |ps filter; "
        "values belong in param() and travel as parameters",
        hint="Write {{ value | ps }} for a quoted literal, or better, pass it as a parameter.",
    )


def _ps_filter(value: Any) -> PSLiteral:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()  # StrictUndefined: name the missing variable
    try:
        return ps_quote(value)
    except UnquotableValue as exc:
        raise TemplateError(str(exc)) from None


def _builtin_templates() -> Traversable:
    """The templates psbridge ships: ``toolkit.ps_templates`` when installed (a wheel, or
    an editable install's mapping), else the ``ps_templates/`` folder of the checkout the
    package was imported from (Python started in a checkout imports its ``toolkit/``
    before the installed one, and that folder has no ``ps_templates`` inside)."""
    try:
        return resources.files("toolkit.ps_templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "ps_templates"


class TemplateCatalog:
    """Finds, describes and renders templates; the user's folder shadows built-ins."""

    def __init__(self, user_dir: Path | None = None, *, include_builtin: bool = True):
        user = user_dir if user_dir is not None else paths.user_templates_dir()
        self._sources = [_Source(user, str(user))]
        if include_builtin:
            self._sources.append(_Source(_builtin_templates(), "built-in"))
        self._meta_cache: dict[str, TemplateMeta] = {}
        # Sandboxed: a template (a user folder's too) cannot reach Python internals
        # (``''.__class__.__mro__``) from Jinja; it still is code that runs on the host.
        self.env = SandboxedEnvironment(
            loader=jinja2.FunctionLoader(self._load),
            undefined=jinja2.StrictUndefined,
            finalize=_refuse_unquoted,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["ps"] = _ps_filter
        # Structure every template may share: {{ orphan_sid_pattern | ps }}.
        self.env.globals["orphan_sid_pattern"] = ORPHAN_SID_PATTERN

    def _locate(self, name: str) -> tuple[Traversable, _Source]:
        for source in self._sources:
            found = source.find(name)
            if found is not None:
                return found, source
        hint = ("_lib/ was split: fragments to include are in _include/, connect steps in "
                "_connect/." if name.startswith("_lib/")
                else "'psbridge task list' shows the templates there are.")
        raise TemplateError(f"no template named {name!r}", hint=hint)

    def _load(self, name: str) -> tuple[str, str, Callable[[], bool]]:
        # Jinja asks for includes by file name; accept both "x/y" and "x/y.ps1.j2".
        bare = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
        node, _ = self._locate(bare)
        return node.read_text(encoding="utf-8"), str(node), lambda: False

    def names(self, *, include_internal: bool = False) -> list[str]:
        """Task names; with ``include_internal``, the ``_connect/`` steps and the
        ``_include/`` fragments too."""
        found: set[str] = set()
        for source in self._sources:
            found.update(source.names())
        return sorted(n for n in found if include_internal or self.is_task(n))

    def meta(self, name: str) -> TemplateMeta:
        """The metadata of a task or of a ``_connect/`` step (fragments have none)."""
        if name not in self._meta_cache:
            node, source = self._locate(name)
            if self.is_fragment(name):
                raise TemplateError(f"{name} is an include-only fragment: templates include "
                                    "it, it does not run by itself")
            self._meta_cache[name] = parse_metadata(
                node.read_text(encoding="utf-8"), name=name, path=str(node), origin=source.origin
            )
        return self._meta_cache[name]

    def all_meta(self) -> list[TemplateMeta]:
        return [self.meta(name) for name in self.names()]

    def connect_step(self, service: str) -> str:
        """The ``_connect/`` step whose metadata says it connects ``service``."""
        found = [n for n in self.names(include_internal=True)
                 if self.is_step(n) and self.meta(n).connects == service]
        if len(found) != 1:
            raise TemplateError(
                f"{len(found) or 'no'} {CONNECT_PREFIX} steps connect {service}"
                + (f": {', '.join(found)}" if found else ""),
                hint=f"Exactly one step's metadata must say 'connects: {service}'.")
        return found[0]

    def render(self, name: str, context: Mapping[str, Any] | None = None, *,
               check_services: bool = True) -> RenderedScript:
        """Render a template (or a ``_connect/`` step or ``_include/`` fragment) to text.

        ``context`` holds structural choices only (a dialect, which optional switches
        exist); data goes in as parameters when the script runs. A script that calls
        cmdlets of both services, or of one its metadata does not list, is refused (the
        lint, which reports each place, renders without ``check_services``).
        """
        meta = self.meta(name) if not self.is_fragment(name) else None
        try:
            template = self.env.get_template(name)
            script = template.render(**(context or {}))
        except TemplateError as exc:
            where = _template_line(exc)
            raise TemplateError(f"{name}{where}: {exc.message}", hint=exc.hint) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            where = _template_line(exc)
            raise TemplateError(
                f"{name}{where}: {exc.message}",
                hint="Templates only see the structural context they are given.",
            ) from None
        except SecurityError as exc:
            where = _template_line(exc)
            raise TemplateError(f"{name}{where}: refused by the template sandbox: {exc}",
                                hint="Templates shape script structure only.") from None
        if meta is None:
            meta = TemplateMeta(name, "fragment for {% include %}", "helpdesk", False, (), {})
        rendered = RenderedScript(meta=meta, script=script.lstrip("\n"))
        if check_services:
            _refuse_mixed_services(rendered)
        return rendered

    @staticmethod
    def is_step(name: str) -> bool:
        """A ``_connect/`` step: psbridge runs it itself to connect or check a session."""
        return name.startswith(CONNECT_PREFIX)

    @staticmethod
    def is_fragment(name: str) -> bool:
        """An ``_include/`` fragment, without metadata, only included by templates."""
        return name.startswith(INCLUDE_PREFIX)

    @classmethod
    def is_task(cls, name: str) -> bool:
        """Neither a ``_connect/`` step nor an ``_include/`` fragment."""
        return not (cls.is_step(name) or cls.is_fragment(name))


def _refuse_mixed_services(rendered: RenderedScript) -> None:
    """A script calling cmdlets of both services, or a task calling those of a service its
    metadata does not list, is refused before it runs."""
    meta = rendered.meta
    problems = service_problems(meta.services, TemplateCatalog.is_task(meta.name),
                                parse(rendered.script))
    if problems:
        raise TemplateError(
            "; ".join(f"{meta.name}:{line}:{col}: {text}" for line, col, text in problems),
            hint="'psbridge task lint' checks a template; see 'Steps: one service per "
                 "runspace' in the README.")


def _template_line(exc: BaseException) -> str:
    """' line N' of the innermost template frame of a rendering error, if any."""
    import traceback

    line = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(SUFFIX):
            line = f" line {frame.lineno}"
    return line


def export_script(rendered: RenderedScript, values: Mapping[str, Any]) -> str:
    """A standalone script: the template wrapped in a script block, called with literals.

    Secret parameters (and secret row columns) are never written out: the exported
    script prompts for them with ``Read-Host -AsSecureString`` when it runs.
    """
    meta = rendered.meta
    lines = [
        f"# Exported by psbridge from template {meta.name}: {meta.summary}",
        "# Review before running. Secrets are asked for at run time, never stored here.",
        "$PSBridgeParameters = [ordered]@{",
    ]
    for pname, value in values.items():
        spec = meta.params.get(pname)
        if spec is not None and spec.secret:
            literal = _secret_prompt(pname)
        elif spec is not None and spec.type == "rows":
            literal = _rows_literal(value, meta)
        else:
            literal = _ps_filter(value)
        lines.append(f"    {_ps_filter(pname)} = {literal}")
    lines.append("}")
    lines.append("& {")
    lines.append(rendered.script.rstrip("\n"))
    lines.append("} @PSBridgeParameters")
    return "\n".join(lines) + "\n"


def _secret_prompt(label: str) -> str:
    return f"(Read-Host -AsSecureString -Prompt {_ps_filter(label)})"


def _rows_literal(rows: Any, meta: TemplateMeta) -> str:
    parts = []
    for row in rows:
        cells = []
        for key, cell in row.items():
            if key in meta.secret_columns:
                label = f"{key} for row {row.get('_row', '?')}"
                cells.append(f"{_ps_filter(key)} = {_secret_prompt(label)}")
            else:
                cells.append(f"{_ps_filter(key)} = {_ps_filter(cell)}")
        parts.append("@{" + "; ".join(cells) + "}")
    return "@(\n        " + ",\n        ".join(parts) + "\n    )" if parts else "@()"


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
