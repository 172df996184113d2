"""Template metadata, lookup, safe rendering and export."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.core.errors import TemplateError
from toolkit.core.template_meta import step_parameters
from toolkit.core.template_params import coerce_param_values, missing_required
from toolkit.core.templates import TemplateCatalog, export_script

HEADER = """{#- psbridge
name: %(name)s
summary: A test template
role: admin
mutates: true
services: [exchange]
params:
  Rows: {type: rows, required: true, description: One row per mailbox}
  Password: {type: secret, required: true}
  Limit: {type: int, default: 5}
row_columns: [Mailbox, Secret]
secret_columns: [Secret]
-#}
"""


def write(folder: Path, name: str, body: str, header: str = HEADER) -> Path:
    path = folder / f"{name}.ps1.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header % {"name": name} + body, encoding="utf-8")
    return path


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    return tmp_path / "templates"


def test_builtin_templates_are_found_and_described(user_dir: Path) -> None:
    catalog = TemplateCatalog(user_dir)
    meta = catalog.meta("exchange/list-mailboxes")
    assert meta.origin == "built-in"
    assert meta.role == "helpdesk" and meta.mutates is False
    assert "exchange/list-mailboxes" in catalog.names()


def test_user_folder_shadows_builtin_and_adds_tasks(user_dir: Path) -> None:
    write(user_dir, "exchange/list-mailboxes", "param($Rows, $Password, $Limit)\n")
    write(user_dir, "custom/thing", "param($Rows, $Password, $Limit)\n")
    catalog = TemplateCatalog(user_dir)
    assert catalog.meta("exchange/list-mailboxes").origin == str(user_dir)
    assert catalog.meta("exchange/list-mailboxes").summary == "A test template"
    assert "custom/thing" in catalog.names()


@pytest.mark.parametrize(
    ("replace", "key"),
    [
        (("role: admin", "role: boss"), "role"),
        (("mutates: true", "mutates: maybe"), "mutates"),
        (("services: [exchange]", "services: [sharepoint]"), "services"),
        (("services: [exchange]", "services: [graph, exchange]"), "services"),
        (("summary: A test template", "colour: blue\nsummary: x"), "colour"),
        (("{type: int, default: 5}", "{type: float}"), "params.Limit.type"),
        (("row_columns: [Mailbox, Secret]", "row_columns: [Mailbox]"), "secret_columns"),
        (("name: %(name)s", "name: other/name"), "name"),
    ],
)
def test_malformed_metadata_names_file_and_key(user_dir: Path, replace: tuple[str, str],
                                               key: str) -> None:
    path = write(user_dir, "bad/one", "param()\n", HEADER.replace(*replace))
    with pytest.raises(TemplateError) as info:
        TemplateCatalog(user_dir).meta("bad/one")
    assert str(path) in info.value.message
    assert f"'{key}'" in info.value.message


def test_missing_metadata_block_is_an_error(user_dir: Path) -> None:
    path = user_dir / "plain.ps1.j2"
    user_dir.mkdir(parents=True)
    path.write_text("Get-Mailbox\n")
    with pytest.raises(TemplateError, match="no metadata block"):
        TemplateCatalog(user_dir).meta("plain")


def test_printing_an_unquoted_value_fails_at_render_time(user_dir: Path) -> None:
    write(user_dir, "leak", "param($Rows, $Password, $Limit)\nGet-Mailbox -Identity {{ who }}\n")
    with pytest.raises(TemplateError) as info:
        TemplateCatalog(user_dir).render("leak", {"who": "x'; Remove-Mailbox -Identity y; '"})
    assert "without the |ps filter" in info.value.message
    assert "leak line 15" in info.value.message


def test_quoted_values_render_and_undefined_names_fail(user_dir: Path) -> None:
    write(user_dir, "ok", "param($Rows, $Password, $Limit)\nGet-Mailbox -Identity {{ who | ps }}\n")
    catalog = TemplateCatalog(user_dir)
    script = catalog.render("ok", {"who": "O'Brien"}).script
    assert "Get-Mailbox -Identity 'O''Brien'" in script
    with pytest.raises(TemplateError, match="'who' is undefined"):
        catalog.render("ok")


def test_a_template_cannot_reach_python_internals(user_dir: Path) -> None:
    """Templates render in Jinja's sandbox: no way from a template to Python's objects."""
    write(user_dir, "escape", "param($Rows, $Password, $Limit)\n"
          "{{ ''.__class__.__mro__[1].__subclasses__() | length | ps }}\n")
    with pytest.raises(TemplateError, match=r"sandbox|unsafe"):
        TemplateCatalog(user_dir).render("escape")


def test_export_writes_literals_and_prompts_for_secrets(user_dir: Path) -> None:
    write(user_dir, "exp", "param($Rows, $Password, $Limit)\nforeach ($r in $Rows) { $r }\n")
    catalog = TemplateCatalog(user_dir)
    rendered = catalog.render("exp")
    rows = [{"_row": 2, "Mailbox": "sales@contoso.com", "Secret": "hunter2"}]
    text = export_script(rendered, {"Rows": rows, "Password": "s3cret!", "Limit": 3})
    assert "hunter2" not in text and "s3cret!" not in text
    assert "'Password' = (Read-Host -AsSecureString -Prompt 'Password')" in text
    assert "(Read-Host -AsSecureString -Prompt 'Secret for row 2')" in text
    assert "'Mailbox' = 'sales@contoso.com'" in text
    assert text.rstrip().endswith("} @PSBridgeParameters")


def test_cli_values_are_typed_by_metadata(user_dir: Path) -> None:
    write(user_dir, "typed", "param($Rows, $Password, $Limit)\n")
    meta = TemplateCatalog(user_dir).meta("typed")
    assert coerce_param_values(meta, {"limit": "7"}) == {"Limit": 7}
    assert coerce_param_values(meta, {}) == {"Limit": 5}
    with pytest.raises(TemplateError, match="expects int"):
        coerce_param_values(meta, {"Limit": "many"})
    with pytest.raises(TemplateError, match="is a secret"):
        coerce_param_values(meta, {"Password": "x"})
    with pytest.raises(TemplateError, match="has no parameter 'Nope'"):
        coerce_param_values(meta, {"Nope": "x"})
    assert missing_required(meta, {"Limit": 1}) == ["Rows"]


def test_log_lines_mask_what_the_metadata_declares_secret(user_dir: Path) -> None:
    """Masking goes by declared type, so a secret under any name is masked."""
    write(user_dir, "logged", "param($Rows, $Passphrase)\n", header=HEADER.replace(
        "  Password: {type: secret, required: true}", "  Passphrase: {type: secret}").replace(
        "[Mailbox, Secret]", "[Mailbox, Pin]").replace("secret_columns: [Secret]",
                                                        "secret_columns: [Pin]"))
    meta = TemplateCatalog(user_dir).meta("logged")
    assert meta.shown({"Passphrase": "open sesame", "Limit": 3}) == {
        "Passphrase": "<secret, not shown>", "Limit": 3}
    assert meta.shown({"Mailbox": "sales@contoso.com", "pin": "1234"}) == {
        "Mailbox": "sales@contoso.com", "pin": "<secret, not shown>"}


STEP = """{#- psbridge
name: %(name)s
summary: A connect step
role: helpdesk
mutates: false
services: []
connects: exchange
params:
  AccessToken: {type: secret, required: true, source: token}
  Renew: {type: switch, source: renew}
-#}
"""


def test_connect_steps_and_fragments_are_no_tasks(user_dir: Path) -> None:
    catalog = TemplateCatalog(user_dir)
    everything = catalog.names(include_internal=True)
    assert "_connect/connect-exchange" in everything
    assert "_include/row-result" in everything
    assert not [n for n in catalog.names() if n.startswith(("_connect/", "_include/"))]
    with pytest.raises(TemplateError, match="include-only fragment"):
        catalog.meta("_include/row-result")
    with pytest.raises(TemplateError, match="no template named") as raised:
        catalog.render("_lib/row-result")
    assert "_include/" in (raised.value.hint or "")


def test_the_connect_step_of_a_service_is_found_by_its_metadata(user_dir: Path) -> None:
    catalog = TemplateCatalog(user_dir)
    assert catalog.connect_step("exchange") == "_connect/connect-exchange"
    assert catalog.connect_step("graph") == "_connect/connect-graph"
    write(user_dir, "_connect/my-exchange", "param($AccessToken, [switch]$Renew)\n", STEP)
    with pytest.raises(TemplateError, match="2 _connect/ steps connect exchange"):
        TemplateCatalog(user_dir).connect_step("exchange")


def test_a_user_connect_step_shadows_the_builtin_one(user_dir: Path) -> None:
    write(user_dir, "_connect/connect-exchange", "param($AccessToken, [switch]$Renew)\n", STEP)
    catalog = TemplateCatalog(user_dir)
    assert catalog.connect_step("exchange") == "_connect/connect-exchange"
    assert catalog.meta("_connect/connect-exchange").origin == str(user_dir)


def test_step_parameters_follow_the_sources_in_the_metadata(user_dir: Path) -> None:
    catalog = TemplateCatalog(user_dir)
    meta = catalog.meta("_connect/connect-exchange")
    assert step_parameters(meta, {"token": "t", "tenant": "o", "cloud": None,
                                  "renew": None}) == {"AccessToken": "t", "Organization": "o"}
    assert step_parameters(meta, {"token": "t", "tenant": "o", "cloud": "O365China",
                                  "renew": True}) == {
        "AccessToken": "t", "Organization": "o", "ExchangeEnvironmentName": "O365China",
        "Renew": True}
    with pytest.raises(TemplateError, match="takes its value from 'tenant'"):
        step_parameters(meta, {"token": "t"})


@pytest.mark.parametrize(
    ("name", "header", "problem"),
    [
        ("_connect/x", STEP.replace(", source: token", ""), "params.AccessToken.source"),
        ("_connect/x", STEP.replace("source: token", "source: password"),
         "params.AccessToken.source"),
        ("_connect/x", STEP.replace("connects: exchange", "connects: sharepoint"), "connects"),
        ("custom/x", STEP, "connects"),
        ("custom/x", STEP.replace("connects: exchange\n", ""), "params.AccessToken.source"),
    ],
)
def test_step_metadata_is_checked(user_dir: Path, name: str, header: str,
                                  problem: str) -> None:
    write(user_dir, name, "param($AccessToken, [switch]$Renew)\n", header)
    with pytest.raises(TemplateError, match=f"metadata key '{problem}'"):
        TemplateCatalog(user_dir).meta(name)


def test_builtin_templates_are_found_when_python_imports_a_checkouts_package(
        tmp_path: Path) -> None:
    """Python started in a checkout imports its toolkit/ before the installed package, and
    toolkit.ps_templates is then nowhere (a wheel install maps it, the checkout does not):
    the catalog reads the checkout's ps_templates/. Reproduced without site's .pth files,
    so no editable-install mapping helps."""
    import os
    import subprocess
    import sys
    import sysconfig

    root = Path(__file__).resolve().parents[2]
    libraries = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *libraries])}
    probe = ("from pathlib import Path; from toolkit.core.templates import TemplateCatalog; "
             f"print(TemplateCatalog(Path({str(tmp_path)!r})).meta('exchange/perms-read').name)")
    found = subprocess.run([sys.executable, "-S", "-c", probe], env=env, cwd=tmp_path,
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.strip() == "exchange/perms-read"
