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
TEMPLATES = sorted(p for p in ROOT.rglob("*.ps1.j2") if not p.parent.name.startswith("_"))
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


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.name for p in TEMPLATES])
def test_template_runs(path: Path) -> None:
    meta = _metadata(path.read_text("utf-8"))
    params = {
        name: KNOWN.get(name, SAMPLES.get(str(info.get("type")), "sample"))
        for name, info in (meta.get("params") or {}).items()
    }
    result = run_script(_engine(), _render(path), params)
    assert result.failed is None, result.failed
    assert not [e for e in result.errors if "Unsupported" in e.fully_qualified_error_id]
    assert result.output, "a template run should produce result objects"
