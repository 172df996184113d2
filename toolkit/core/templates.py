"""Templates: lookup (user folder over built-ins), safe rendering and export.

A template is a ``.ps1.j2`` file whose name is its path under a templates folder without
the suffix (``exchange/list-mailboxes``). It opens with a metadata block, a Jinja comment
holding YAML (read by :mod:`toolkit.core.template_meta`); the values of its parameters
typed on the command line are read by :mod:`toolkit.core.template_params`.

The rendered script declares ``param(...)`` and receives every value as a PSRP parameter.
Jinja only shapes structure: the environment's ``finalize`` refuses to print any value that
did not pass through the ``|ps`` quoting filter, so a stray ``{{ row.name }}`` fails at
render time instead of becoming an injection.

Two folders hold no tasks (``task list`` skips them, ``task run`` refuses them):

- ``_connect/``: steps psbridge runs itself to connect or check a session. Their metadata
  is a task's plus ``connects`` (the service a connect step connects) and, on every
  parameter, ``source``: where the code that runs the step takes the value (see
  :data:`~toolkit.core.template_meta.STEP_SOURCES` and
  :func:`~toolkit.core.template_meta.step_parameters`).
- ``_include/``: fragments only other templates include (``{% include
  '_include/row-result.ps1.j2' %}``); they have no metadata block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from toolkit.core import paths
from toolkit.core.errors import TemplateError
from toolkit.core.quoting import PSLiteral, UnquotableValue, ps_quote
from toolkit.core.script_services import parse, service_problems
from toolkit.core.sids import ORPHAN_SID_PATTERN
from toolkit.core.template_meta import CONNECT_PREFIX, TemplateMeta, parse_metadata

SUFFIX = ".ps1.j2"
INCLUDE_PREFIX = "_include/"


@dataclass(frozen=True)
class RenderedScript:
    meta: TemplateMeta
    script: str


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
