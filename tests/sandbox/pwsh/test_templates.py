"""Every shipped template renders and runs in the engine against stub cmdlets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from toolkit.sandbox.pwsh.cmdlets import CmdletContext, CmdletRegistry, Engine, run_script
from toolkit.sandbox.pwsh.spec import cmdlet_specs
from toolkit.sandbox.values import PSObject

ROOT = Path(__file__).resolve().parents[3] / "ps_templates"
ALL = sorted(ROOT.rglob("*.ps1.j2"))
# Tasks and runnable shared pieces carry a metadata block; fragments are tested below.
TEMPLATES = [p for p in ALL if p.read_text("utf-8").lstrip().startswith("{#- psbridge")]
FRAGMENTS = [p for p in ALL if p not in TEMPLATES]
# Parameters whose values the real service validates get a valid sample.
KNOWN = {"RecipientTypeDetails": "UserMailbox", "AccessRights": "FullAccess"}
SAMPLES = {
    "string": "sample",
    "int": 1,
    "bool": True,
    "switch": True,
    "guid": "0f8fad5b-d9cb-469f-a165-70867728950e",
}


def _stub(ctx: CmdletContext, params: dict[str, Any]) -> list[PSObject]:
    props = {
        "Identity": "sample",
        "DisplayName": "Sample",
        "PrimarySmtpAddress": "s@x",
        "RecipientTypeDetails": "UserMailbox",
        **params,
    }
    return [PSObject(props, type_names=["Deserialized.Stub", "Deserialized.System.Object"])]


def _engine() -> Engine:
    registry = CmdletRegistry()
    for name, spec in cmdlet_specs().items():
        product = "Exchange Online" if "Exchange Online" in spec["applicable"] else None
        registry.register(name, _stub, product=product)
    return Engine(registry)


def _metadata(text: str) -> dict[str, Any]:
    header = text.split("{#-", 1)[1].split("-#}", 1)[0].strip()
    return yaml.safe_load(header.removeprefix("psbridge").strip()) or {}


def _render(path: Path) -> str:
    loader = jinja2.FileSystemLoader(str(ROOT))
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined)
    from toolkit.core import quoting

    env.filters["ps"] = quoting.ps_quote
    return env.get_template(path.relative_to(ROOT).as_posix()).render()


@pytest.mark.parametrize("path", TEMPLATES, ids=[str(p.relative_to(ROOT)) for p in TEMPLATES])
def test_template_runs(path: Path) -> None:
    meta = _metadata(path.read_text("utf-8"))
    params = {
        name: KNOWN.get(name, SAMPLES.get(str(info.get("type")), "sample"))
        for name, info in (meta.get("params") or {}).items()
    }
    result = run_script(_engine(), _render(path), params)
    assert result.failed is None, result.failed
    assert not [e for e in result.errors if "Unsupported" in e.fully_qualified_error_id]
    assert result.errors == []


@pytest.mark.parametrize("path", FRAGMENTS, ids=[str(p.relative_to(ROOT)) for p in FRAGMENTS])
def test_fragment_compiles(path: Path) -> None:
    from toolkit.sandbox.pwsh.compiler import compile_script

    compile_script(_render(path))


def test_row_result_helpers() -> None:
    helpers = _render(ROOT / "_lib" / "row-result.ps1.j2")
    script = (
        helpers
        + """
param($Rows)
foreach ($row in $Rows) {
    try {
        if ($row.Name -eq 'bad') { Set-Mailbox -Identity $row.Name -Bogus 1 }
        Write-RowResult -Row $row -Status 'changed' -Message 'ok' -Fields @{ Extra = 1 }
    } catch {
        Write-RowFailure -Row $row -ErrorRecord $_
    }
}
"""
    )
    script = "param($Rows)\n" + helpers + script.split("param($Rows)", 1)[1]
    rows = [{"_row": 1, "Name": "good"}, {"_row": 2, "Name": "bad"}]
    from toolkit.sandbox.values import Hashtable

    result = run_script(_engine(), script, {"Rows": [Hashtable(r) for r in rows]})
    assert result.failed is None and result.errors == []
    good, bad = result.output
    assert dict(good.properties) == {
        "Row": 1,
        "Status": "changed",
        "Message": "ok",
        "ErrorId": None,
        "Category": None,
        "Extra": 1,
    }
    assert bad["Status"] == "failed"
    assert bad["ErrorId"] == "NamedParameterNotFound,Set-Mailbox"
    assert bad["Category"] == "InvalidArgument"
    assert bad["Message"] == "A parameter cannot be found that matches parameter name 'Bogus'."
