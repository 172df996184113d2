"""Microsoft's parameter metadata (``toolkit/spec/cmdlets.json``), loaded once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def cmdlet_specs() -> dict[str, dict[str, Any]]:
    """``cmdlets.json["cmdlets"]``: name -> {module, applicable, parameter_sets, ...}."""
    text = resources.files("toolkit.spec").joinpath("cmdlets.json").read_text("utf-8")
    specs: dict[str, dict[str, Any]] = json.loads(text)["cmdlets"]
    return specs
