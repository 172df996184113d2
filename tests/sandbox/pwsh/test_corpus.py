"""Runs corpus.yaml: each snippet's output objects and error records must match."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from toolkit.sandbox.pwsh.cmdlets import CmdletRegistry
from toolkit.sandbox.pwsh.engine import Engine, run_script
from toolkit.sandbox.values import ErrorRecord, Hashtable, PSObject, SecureString

CASES = yaml.safe_load((Path(__file__).parent / "corpus.yaml").read_text("utf-8"))


def plain(value: Any) -> Any:
    """Engine values as YAML-comparable data."""
    if isinstance(value, PSObject):
        return {k: plain(v) for k, v in value.properties.items()}
    if isinstance(value, Hashtable):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, SecureString):
        return "SecureString"
    if isinstance(value, ErrorRecord):
        return f"ErrorRecord:{value.message}"
    return value


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(CmdletRegistry())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_snippet(engine: Engine, case: dict[str, Any]) -> None:
    result = run_script(engine, case["script"], case.get("parameters"), input=case.get("input"))
    failed = result.failed.fully_qualified_error_id if result.failed else None
    assert failed == case.get("failed"), result.failed
    assert [plain(v) for v in result.output] == case.get("output", []), result.errors
    errors = [e.fully_qualified_error_id for e in result.errors]
    assert errors == case.get("errors", [])
    if "error_messages" in case:
        assert [e.message for e in result.errors] == case["error_messages"]
    for stream in ("warnings", "verbose", "information"):
        if stream in case:
            assert [plain(v) for v in getattr(result, stream)] == case[stream]
