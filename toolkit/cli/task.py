"""``psbridge task``: the templates behind every job, listed, shown, exported and linted."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from toolkit.cli.context import AppContext
from toolkit.cli.jobrun import concurrency_option, distributed_option, execute
from toolkit.cli.output import emit
from toolkit.core.errors import InputError, TemplateError

if TYPE_CHECKING:
    from toolkit.core.templates import TemplateCatalog, TemplateMeta


def _catalog() -> TemplateCatalog:
    from toolkit.core.templates import TemplateCatalog

    return TemplateCatalog()


@click.group()
def task() -> None:
    """List, show, lint and run PowerShell templates.

    Templates are Jinja-shaped PowerShell scripts: built-in ones ship with psbridge, and
    files in your templates folder (PSBRIDGE_TEMPLATES, else templates/ in the user config
    folder) add new tasks or shadow built-ins of the same name.
    """


@task.command("list")
@click.pass_obj
def list_(app: AppContext) -> None:
    """List every template with its summary, the role it needs and whether it changes data."""
    rows = [
        {"name": m.name, "summary": m.summary, "role": m.role, "mutates": m.mutates,
         "origin": m.origin}
        for m in _catalog().all_meta()
    ]
    emit(app, rows, ["name", "summary", "role", "mutates", "origin"], title="Templates")


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--param {item!r}: expected KEY=VALUE")
        parsed[key] = value
    return parsed


@task.command()
@click.argument("name")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter value, for --export (repeatable).")
@click.option("--export", is_flag=True,
              help="Print a standalone script with the --param values written in as "
              "quoted literals (secrets are prompted for when it runs).")
@click.pass_obj
def show(app: AppContext, name: str, params: tuple[str, ...], export: bool) -> None:
    """Show a template's metadata and its rendered script.

    \b
    Examples:
      psbridge task show exchange/list-mailboxes
      psbridge task show exchange/list-mailboxes --export --param RecipientTypeDetails=SharedMailbox
    """
    from toolkit.core.templates import coerce_param_values, export_script, missing_required

    catalog = _catalog()
    meta = catalog.meta(name)
    rendered = catalog.render(name)
    if export:
        values = coerce_param_values(meta, _parse_params(params))
        missing = missing_required(meta, values)
        if missing:
            raise InputError(f"template {name} needs --param for: {', '.join(missing)}")
        sys.stdout.write(export_script(rendered, values))
        return
    if params:
        raise InputError("--param only makes sense with --export")
    info: dict[str, Any] = {
        "name": meta.name,
        "summary": meta.summary,
        "role": meta.role,
        "mutates": meta.mutates,
        "services": list(meta.services),
        "params": {
            p.name: {"type": p.type, "required": p.required, "description": p.description}
            for p in meta.params.values()
        },
        "row_columns": list(meta.row_columns),
        "origin": meta.origin,
        "path": meta.path,
    }
    if app.output == "json":
        click.echo(json.dumps({**info, "script": rendered.script}, indent=2))
        return
    for key, value in info.items():
        if value in ([], {}, ""):
            continue
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for pname, pinfo in value.items():
                need = "required" if pinfo["required"] else "optional"
                click.echo(f"  {pname} ({pinfo['type']}, {need}): {pinfo['description']}")
        else:
            shown = (", ".join(value) if isinstance(value, list)
                     else str(value).lower() if isinstance(value, bool) else value)
            click.echo(f"{key}: {shown}")
    click.echo("--- rendered script ---")
    click.echo(rendered.script, nl=False)


@task.command()
@click.argument("names", nargs=-1)
@click.pass_obj
def lint(app: AppContext, names: tuple[str, ...]) -> None:
    """Check templates: syntax, known commands and parameters, param() vs metadata.

    With no NAME, every template (the _connect/ steps and _include/ fragments included) is
    checked. Exit code 2 when any finding is reported.
    """
    from toolkit.core.lint import lint_template

    catalog = _catalog()
    targets = list(names) or catalog.names(include_internal=True)
    findings = [f for name in targets for f in lint_template(catalog, name)]
    for finding in findings:
        click.echo(str(finding))
    if findings:
        raise TemplateError(f"{len(findings)} problem(s) in {len(targets)} template(s)")
    click.echo(f"{len(targets)} template(s) checked, no problems")


def ask_secrets(meta: TemplateMeta, values: dict[str, Any]) -> None:
    """Secret parameters: from PSBRIDGE_SECRET_<NAME>, else a hidden prompt on a terminal."""
    import os

    for spec in meta.params.values():
        if not spec.secret:
            continue
        env = f"PSBRIDGE_SECRET_{spec.name.upper()}"
        if env in os.environ:
            values[spec.name] = os.environ[env]
        elif sys.stdin.isatty():
            values[spec.name] = click.prompt(spec.name, hide_input=True)
        elif spec.required:
            raise InputError(f"template {meta.name} needs the secret {spec.name}",
                             hint=f"Set {env}, or run in a terminal to be asked for it.")


@task.command()
@click.argument("name")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False,
                                                   path_type=Path),
              help="Rows for a row-driven template (its row_columns as the header).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter value (repeatable). Secrets are never given here: set "
              "PSBRIDGE_SECRET_<NAME> or answer the prompt.")
@click.option("--dry-run", is_flag=True,
              help="Validate the input and render the script; connect to nothing.")
@click.option("--export", "export_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the reviewed standalone script to this .ps1 file instead of "
              "running it.")
@concurrency_option
@distributed_option
@click.pass_obj
def run(app: AppContext, name: str, csv_path: Path | None, params: tuple[str, ...],
        dry_run: bool, export_path: Path | None, concurrency: int | None, chunk_size: int,
        results_path: Path | None, distributed: bool) -> None:
    """Run any template, built-in or your own, through the runner and the journal.

    A row-driven template (one with a 'rows' parameter) takes --csv; every row's outcome is
    recorded as it arrives, so an interrupted job resumes with 'psbridge jobs resume ID'.
    Other templates run once and print what they return.

    \b
    Examples:
      psbridge task run exchange/list-mailboxes --param RecipientTypeDetails=SharedMailbox
      psbridge task run custom/set-attribute --csv rows.csv --dry-run
      psbridge task run custom/set-attribute --csv rows.csv --results out.csv
      psbridge task run custom/set-attribute --csv rows.csv --distributed
    """
    from toolkit.core.config import resolve_profile
    from toolkit.core.jobs import check_role, run_once
    from toolkit.core.target import open_target
    from toolkit.core.templates import coerce_param_values, export_script, missing_required
    from toolkit.tasks.generic import plan_from_csv

    catalog = _catalog()
    if catalog.is_step(name):
        raise InputError(f"{name} is a step psbridge runs itself when it connects or checks "
                         "a session, not a task")
    meta = catalog.meta(name)
    values = coerce_param_values(meta, _parse_params(params))
    row_param = meta.row_param
    if row_param is not None and csv_path is None:
        raise InputError(f"template {name} is row-driven: give its rows with --csv FILE",
                         hint=f"Columns: {', '.join(meta.row_columns)}.")
    if row_param is None and csv_path is not None:
        raise InputError(f"template {name} takes no rows; drop --csv")
    missing = [p for p in missing_required(meta, values)
               if row_param is None or p != row_param.name]
    if missing:
        raise InputError(f"template {name} needs --param for: {', '.join(missing)}")
    plan = plan_from_csv(meta, csv_path, values) if csv_path is not None else None
    rendered = catalog.render(name)
    if export_path is not None:
        rows = [{**w.data, "_row": w.row} for w in plan.rows()] if plan else None
        export_values = {**values, **({row_param.name: rows} if row_param and rows else {})}
        export_path.write_text(export_script(rendered, export_values), encoding="utf-8")
        click.echo(f"wrote {export_path} (secrets are prompted for when it runs)", err=True)
        return
    profile = resolve_profile(app.profile_name)
    if dry_run:
        rows_note = f"{plan.total} valid row(s) from {csv_path}, " if plan else ""
        click.echo(f"dry run: {rows_note}template {name} ({meta.role}, "
                   f"{'changes data' if meta.mutates else 'read-only'}) would run on profile "
                   f"{profile.name}; nothing was sent")
        if app.verbose:
            click.echo(rendered.script, nl=False)
        return
    ask_secrets(meta, values)
    with open_target(profile, app.tenant) as target:
        check_role(meta, target)
        if plan is not None:
            execute(app, target, catalog, plan, concurrency=concurrency,
                    chunk_size=chunk_size, results_path=results_path, distributed=distributed)
            return
        result = run_once(target, catalog, name, values)
    _print_pipeline(app, result)


def _print_pipeline(app: AppContext, result: Any) -> None:
    """Output objects as a table (columns: every property seen), then errors; exit 1 on errors."""
    from toolkit.core.errors import PartialFailure

    objects = [o if isinstance(o, dict) else {"value": o} for o in result.output]
    columns: list[str] = []
    for item in objects:
        columns.extend(k for k in item if k not in columns)
    if objects:
        emit(app, objects, columns)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in result.errors:
        click.echo(f"error: {error.message} ({error.error_id})", err=True)
    if result.errors:
        raise PartialFailure(f"the template reported {len(result.errors)} error(s)")
