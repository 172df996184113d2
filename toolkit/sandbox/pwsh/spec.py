"""Microsoft's parameter metadata (``toolkit/spec/cmdlets.json``), loaded once.

``cmdlets.json`` is a byte copy of the shared metadata; ``supplement.json`` adds, in the
same shape, the few cmdlets it lacks (each with its Learn page in ``_about``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def cmdlet_specs() -> dict[str, dict[str, Any]]:
    """``cmdlets.json["cmdlets"]`` and the supplement's: name -> {module, applicable,
    parameter_sets, ...}."""
    folder = resources.files("toolkit.spec")
    specs: dict[str, dict[str, Any]] = {}
    for name in ("cmdlets.json", "supplement.json"):
        specs.update(json.loads(folder.joinpath(name).read_text("utf-8"))["cmdlets"])
    return specs
