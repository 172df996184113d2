"""``psbridge task``: the templates behind every job, listed, shown, exported and linted."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from toolkit.cli.main import AppContext
from toolkit.cli.output import emit
from toolkit.core.errors import InputError, TemplateError

if TYPE_CHECKING:
    from toolkit.core.templates import TemplateCatalog


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

    With no NAME, every template (the _lib/ pieces included) is checked. Exit code 2 when
    any finding is reported.
    """
    from toolkit.core.lint import lint_template

    catalog = _catalog()
    targets = list(names) or catalog.names(include_library=True)
    findings = [f for name in targets for f in lint_template(catalog, name)]
    for finding in findings:
        click.echo(str(finding))
    if findings:
        raise TemplateError(f"{len(findings)} problem(s) in {len(targets)} template(s)")
    click.echo(f"{len(targets)} template(s) checked, no problems")
