"""Hostile strings reach a cmdlet byte for byte and never run another command."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.sandbox.pwsh.cmdlets import CmdletContext, CmdletRegistry
from toolkit.sandbox.pwsh.engine import Engine, run_script

HOSTILE = "'\u2018\u2019\u201a\u201b\"\u201c\u201d\u201e$()`;\n\r\0{}@|&#<>-abc "
STRINGS = st.one_of(
    st.text(alphabet=HOSTILE, max_size=40),
    st.text(max_size=30),
    st.sampled_from(
        [
            "$(Remove-MgUser -UserId x)",
            "'; Remove-MgUser -UserId x; '",
            "\u2019; Remove-MgUser x; \u2018",
            "`$(Get-Date)",
            "@{a=1}",
            "\0",
        ]
    ),
)

CALLS: list[tuple[str, dict[str, Any]]] = []
REGISTRY = CmdletRegistry()


@REGISTRY.cmdlet("Set-Mailbox", product="Exchange Online")
def _set_mailbox(ctx: CmdletContext, params: dict[str, Any]) -> None:
    CALLS.append((ctx.cmdlet_name, params))


@REGISTRY.cmdlet("Remove-MgUser")
def _remove_user(ctx: CmdletContext, params: dict[str, Any]) -> None:
    CALLS.append((ctx.cmdlet_name, params))


ENGINE = Engine(REGISTRY)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(value: str, result: Any) -> None:
    assert result.failed is None, result.failed
    assert result.errors == []
    assert [name for name, _ in CALLS] == ["Set-Mailbox"]
    params = CALLS[0][1]
    assert params["Identity"] == value
    assert params["DisplayName"] == value


@SETTINGS
@given(STRINGS)
def test_bound_parameter_arrives_verbatim(value: str) -> None:
    CALLS.clear()
    script = "param($Value)\nSet-Mailbox -Identity $Value -DisplayName $Value"
    _check(value, run_script(ENGINE, script, {"Value": value}))


@SETTINGS
@given(STRINGS)
def test_quoted_literal_arrives_verbatim(value: str) -> None:
    quoting = pytest.importorskip("toolkit.core.quoting")
    CALLS.clear()
    literal = quoting.ps_quote(value)
    script = f"Set-Mailbox -Identity {literal} -DisplayName {literal}"
    _check(value, run_script(ENGINE, script))


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**31), max_value=2**31 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.uuids()
    | st.binary(max_size=8)
    | st.text(alphabet=HOSTILE, max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet="abcxyz", min_size=1, max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@SETTINGS
@given(VALUES)
def test_quoted_values_of_every_kind_read_back(value: Any) -> None:
    quoting = pytest.importorskip("toolkit.core.quoting")
    script = (
        "function Capture { param($Value) $script:got = $Value }\n"
        f"Capture -Value {quoting.ps_quote(value)}\n"
        ",$got"
    )
    result = run_script(ENGINE, script)
    assert result.failed is None and result.errors == []
    assert result.output == [value]
