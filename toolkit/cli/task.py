"""``psbridge task``: the templates behind every job, listed, shown, exported and linted."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from toolkit.cli.context import AppContext
from toolkit.cli.jobrun import concurrency_option, distributed_option, run_shown
from toolkit.cli.output import emit
from toolkit.core.errors import InputError, PartialFailure, TemplateError

if TYPE_CHECKING:
    from toolkit.api.tasks import PipelineResult


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
    with app.workspace() as ws:
        templates = ws.tasks.templates()
    rows = [{"name": m.name, "summary": m.summary, "role": m.role, "mutates": m.mutates,
             "origin": m.origin} for m in templates]
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
    with app.workspace() as ws:
        rendered = ws.tasks.show(name)
        if export:
            sys.stdout.write(ws.tasks.export(name, _parse_params(params)))
            return
    if params:
        raise InputError("--param only makes sense with --export")
    meta = rendered.meta
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
    with app.workspace() as ws:
        report = ws.tasks.lint(names)
    findings, targets = report.findings, report.templates
    if app.output == "table":
        for finding in findings:
            click.echo(str(finding))
    else:
        emit(app, [asdict(f) for f in findings], ["template", "line", "column", "message"])
    if findings:
        raise TemplateError(f"{len(findings)} problem(s) in {len(targets)} template(s)")
    click.echo(f"{len(targets)} template(s) checked, no problems", err=app.output != "table")


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
    with app.workspace() as ws:
        request = ws.tasks.plan(name, _parse_params(params), csv_path)
        if export_path is not None:
            request.write_script(export_path)
            click.echo(f"wrote {export_path} (secrets are prompted for when it runs)",
                       err=True)
            return
        profile = ws.profile.name
        if dry_run:
            meta, plan = request.meta, request.plan
            rows_note = f"{plan.total} valid row(s) from {csv_path}, " if plan else ""
            click.echo(f"dry run: {rows_note}template {name} ({meta.role}, "
                       f"{'changes data' if meta.mutates else 'read-only'}) would run on "
                       f"profile {profile}; nothing was sent")
            if app.verbose:
                click.echo(request.rendered.script, nl=False)
            return
        ws.tasks.ask_secrets(request, _hidden_prompt if sys.stdin.isatty() else None)
        if request.plan is not None:
            run_shown(app, ws, request.plan.task,
                      lambda: ws.tasks.run(request, concurrency=concurrency,
                                           chunk_size=chunk_size, results=results_path,
                                           distributed=distributed))
            return
        result = ws.tasks.run_once(request)
    _print_pipeline(app, result)


def _hidden_prompt(name: str) -> str:
    """A secret parameter asked for on the terminal, not echoed."""
    return str(click.prompt(name, hide_input=True))


def _print_pipeline(app: AppContext, result: PipelineResult) -> None:
    """Output objects as a table (columns: every property seen), then errors; exit 1 on errors."""
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
