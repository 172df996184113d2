"""Every shipped template renders (with psbridge's own renderer) and runs in the engine.

Cmdlets are stubs bound through cmdlets.json, so a wrong parameter name or an
unsupported construct in a template fails here; whether the tenant does the right thing
is the tenant's tests' business.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from toolkit.core.template_meta import ParamSpec
from toolkit.core.templates import TemplateCatalog
from toolkit.sandbox.pwsh.cmdlets import CmdletContext, CmdletRegistry
from toolkit.sandbox.pwsh.compiler import compile_script
from toolkit.sandbox.pwsh.engine import Engine, run_script
from toolkit.sandbox.pwsh.spec import cmdlet_specs
from toolkit.sandbox.values import Hashtable, PSObject, SecureString

CATALOG = TemplateCatalog(Path(__file__).parent / "no-user-templates", include_builtin=True)
NAMES = CATALOG.names(include_internal=True)
TEMPLATES = [n for n in NAMES if not CATALOG.is_fragment(n)]
FRAGMENTS = [n for n in NAMES if CATALOG.is_fragment(n)]

# Parameters whose values the service validates get a valid sample.
KNOWN = {"RecipientTypeDetails": "UserMailbox", "AccessRights": "FullAccess", "Security": "Ssl"}
SAMPLES: dict[str, Any] = {
    "string": "sample",
    "string[]": ["sample"],
    "int": 1,
    "bool": True,
    "switch": True,
    "guid": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
    "datetime": dt.datetime(2024, 1, 2, 3, 4, 5),
    "secret": "secret-sample",
    "bytes": b"EmailAddress,UserName,Password\r\n",
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


# Row columns get values that walk different paths of a row-driven template (one list
# entry per row; a column not listed gets "<column><row>").
ROW_VALUES: dict[str, list[Any]] = {
    "Right": ["FullAccess", "SendAs", "SendOnBehalf"],
    "Op": ["grant", "revoke", "remap"],
    "AutoMapping": [True, None, False],
    "PlanError": ["", "", "planned failure"],
    "Create": [True, False, False],
    "Enable": [True, False, True],
    "UsageLocation": ["US", "", "GB"],
    "AddLicenses": ["ENTERPRISEPACK", "", "EMS"],
    "RemoveLicenses": ["", "EMS", ""],
    "Password": [SecureString("Temp-pass-1"), None, None],
    "Aliases": ["alias1@contoso.com", "", ""],
    "Pop": [True, False, None],
    "Imap": [False, True, None],
    "Port": [993, 143, 993],
    "Security": ["Ssl", "Tls", "None"],
    "Users": [["a@contoso.com"], [], ["b@contoso.com", "c@contoso.com"]],
    "CSVData": [b"EmailAddress,UserName,Password\r\n", b"", b""],
}
# Error ids that mean the template asked for something the engine or the spec lacks.
ENGINE_ERRORS = ("Unsupported", "SandboxEngineError", "CommandNotFoundException",
                 "NamedParameterNotFound", "AmbiguousParameter", "MethodNotFound",
                 "TypeNotFound", "ParameterAlreadyBound", "PositionalParameterNotFound")  # fmt: skip


def _sample(name: str, param: ParamSpec, columns: tuple[str, ...]) -> Any:
    if param.type == "rows":
        return [
            Hashtable(
                {"_row": i + 1, **{c: ROW_VALUES.get(c, [f"{c}{i + 1}"] * 3)[i] for c in columns}}
            )
            for i in range(3)
        ]
    if param.type == "secret" and "password" in name.casefold():
        return SecureString("secret-sample")
    return KNOWN.get(name, SAMPLES.get(param.type, "sample"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_runs(name: str) -> None:
    meta = CATALOG.meta(name)
    params = {n: _sample(n, p, meta.row_columns) for n, p in meta.params.items()}
    result = run_script(_engine(), CATALOG.render(name).script, params)
    assert result.failed is None, result.failed
    assert result.errors == []
    for item in result.output:  # row results: failures of the stubs are fine, not these
        error_id = str(item.get("ErrorId") or "") if isinstance(item, PSObject) else ""
        assert not error_id.startswith(ENGINE_ERRORS), item


@pytest.mark.parametrize("name", FRAGMENTS)
def test_fragment_compiles(name: str) -> None:
    compile_script(CATALOG.render(name).script)


def test_row_result_helpers() -> None:
    helpers = CATALOG.render("_include/row-result").script
    script = (
        "param($Rows)\n"
        + helpers
        + """
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
    rows = [Hashtable({"_row": 1, "Name": "good"}), Hashtable({"_row": 2, "Name": "bad"})]
    result = run_script(_engine(), script, {"Rows": rows})
    assert result.failed is None and result.errors == []
    good, bad = result.output
    assert good["Row"] == 1 and good["Status"] == "changed" and good["Extra"] == 1
    assert bad["Row"] == 2 and bad["Status"] == "failed"
    assert bad["ErrorId"] == "NamedParameterNotFound,Set-Mailbox"
    assert bad["Category"] == "InvalidArgument"
    assert bad["Message"] == "A parameter cannot be found that matches parameter name 'Bogus'."
