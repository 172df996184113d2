"""``ws.tasks``: the templates behind every job, built-in or the user's: listed, shown,
linted, exported, and run (a row-driven one from a CSV, as a resumable job)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.api.jobs import DEFAULT_CHUNK, run_job
from toolkit.api.results import JobRun
from toolkit.core.errors import InputError

if TYPE_CHECKING:
    from toolkit.api.workspace import Workspace
    from toolkit.core.jobs import JobPlan
    from toolkit.core.lint import Finding
    from toolkit.core.pipeline_results import PipelineResult
    from toolkit.core.template_meta import TemplateMeta
    from toolkit.core.templates import RenderedScript

# What these methods hand back, named from here.
__all__ = ["Finding", "LintReport", "PipelineResult", "RenderedScript", "TaskRequest", "Tasks",
           "TemplateMeta"]

SecretPrompt = Callable[[str], str]  # the secret parameter's name -> its value


@dataclass(frozen=True)
class LintReport:
    """The templates checked and what was found in them (nothing: all is well)."""

    templates: Sequence[str]
    findings: Sequence[Finding]


@dataclass
class TaskRequest:
    """A template with its parameters checked and, for a row-driven one, its CSV read and
    planned: what runs, is exported, or is described by a dry run."""

    rendered: RenderedScript
    values: dict[str, Any] = field(repr=False)
    plan: JobPlan | None = None

    @property
    def meta(self) -> TemplateMeta:
        return self.rendered.meta

    def script(self) -> str:
        """The standalone script to review: the parameters (and the CSV's rows) written in
        as quoted literals; secrets are prompted for when it runs."""
        from toolkit.core.templates import export_script

        row_param = self.meta.row_param
        rows = [{**w.data, "_row": w.row} for w in self.plan.rows()] if self.plan else None
        values = {**self.values, **({row_param.name: rows} if row_param and rows else {})}
        return export_script(self.rendered, values)

    def write_script(self, path: Path) -> None:
        """Write :meth:`script` to ``path`` (a .ps1 file)."""
        path.write_text(self.script(), encoding="utf-8")


class Tasks:
    """``ws.tasks``. Templates come from the user's folder (``PSBRIDGE_TEMPLATES``, else
    templates/ in the config folder), shadowing built-ins of the same name. Listing,
    showing, linting and exporting connect to nothing."""

    def __init__(self, workspace: Workspace):
        self._ws = workspace

    def templates(self) -> list[TemplateMeta]:
        """Every task template's metadata (summary, role, whether it changes data, origin)."""
        return self._ws.catalog.all_meta()

    def show(self, name: str) -> RenderedScript:
        """A task's (or a ``_connect/`` step's) metadata and rendered script."""
        self._ws.catalog.meta(name)  # an _include/ fragment is refused: it has none
        return self._ws.catalog.render(name)

    def export(self, name: str, params: Mapping[str, str]) -> str:
        """The standalone script of ``name`` with ``params`` (text, coerced to the declared
        types) written in; every required parameter must be given."""
        from toolkit.core.template_params import coerce_param_values, missing_required

        rendered = self.show(name)
        values = coerce_param_values(rendered.meta, params)
        missing = missing_required(rendered.meta, values)
        if missing:
            raise InputError(f"template {name} needs --param for: {', '.join(missing)}")
        return TaskRequest(rendered, values).script()

    def lint(self, names: Sequence[str] = ()) -> LintReport:
        """Check templates: syntax, known commands and parameters, param() against the
        metadata. No ``names``: every template, connect steps and fragments included."""
        from toolkit.core.lint import lint_template

        catalog = self._ws.catalog
        targets = list(names) or catalog.names(include_internal=True)
        return LintReport(targets, [f for name in targets for f in lint_template(catalog, name)])

    def plan(self, name: str, params: Mapping[str, str] | None = None,
             csv: Path | str | None = None) -> TaskRequest:
        """Check ``params`` (text, coerced to the declared types) and, for a row-driven
        template, read and plan its rows from ``csv`` (every problem of the file raised
        before anything runs)."""
        from toolkit.core.template_params import coerce_param_values, missing_required
        from toolkit.tasks.generic import plan_from_csv

        catalog = self._ws.catalog
        if catalog.is_step(name):
            raise InputError(f"{name} is a step psbridge runs itself when it connects or "
                             "checks a session, not a task")
        meta = catalog.meta(name)
        values = coerce_param_values(meta, params or {})
        row_param = meta.row_param
        if row_param is not None and csv is None:
            raise InputError(f"template {name} is row-driven: give its rows with --csv FILE",
                             hint=f"Columns: {', '.join(meta.row_columns)}.")
        if row_param is None and csv is not None:
            raise InputError(f"template {name} takes no rows; drop --csv")
        missing = [p for p in missing_required(meta, values)
                   if row_param is None or p != row_param.name]
        if missing:
            raise InputError(f"template {name} needs --param for: {', '.join(missing)}")
        plan = plan_from_csv(meta, Path(csv), values) if csv is not None else None
        return TaskRequest(catalog.render(name), values, plan)

    def ask_secrets(self, request: TaskRequest, prompt: SecretPrompt | None = None) -> None:
        """Fill the secret parameters: from ``PSBRIDGE_SECRET_<NAME>``, else ``prompt``
        (e.g. a hidden prompt on a terminal); a required one found nowhere is an error."""
        meta = request.meta
        for spec in meta.params.values():
            if not spec.secret:
                continue
            env = f"PSBRIDGE_SECRET_{spec.name.upper()}"
            if env in os.environ:
                request.values[spec.name] = os.environ[env]
            elif prompt is not None:
                request.values[spec.name] = prompt(spec.name)
            elif spec.required:
                raise InputError(f"template {meta.name} needs the secret {spec.name}",
                                 hint=f"Set {env}, or run in a terminal to be asked for it.")

    def run(self, request: TaskRequest, *, concurrency: int | None = None,
            chunk_size: int = DEFAULT_CHUNK, results: Path | None = None,
            distributed: bool = False) -> JobRun:
        """Run a row-driven request as a job (on the Celery workers with ``distributed``);
        every row's outcome is recorded, so ``ws.jobs.resume`` finishes it after a stop."""
        if request.plan is None:
            raise InputError(f"template {request.meta.name} takes no rows: use run_once")
        from toolkit.core.jobs import check_role

        check_role(request.meta, self._ws.target)
        return run_job(self._ws.target, self._ws.catalog, request.plan,
                       concurrency=concurrency, chunk_size=chunk_size, results_path=results,
                       progress=self._ws.progress, distributed=distributed)

    def run_once(self, request: TaskRequest) -> PipelineResult:
        """Run a template that takes no rows (its role checked first); what it returned,
        warned and failed."""
        from toolkit.core.jobs import run_once

        return run_once(self._ws.target, self._ws.catalog, request.meta.name, request.values)

