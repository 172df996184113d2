"""The one way the product reaches the embedded sandbox: the entry point ``psbridge.sandbox``.

The sandbox is a separate piece (an emulated management host and tenant) that the product
uses for its default profile, ``psbridge sandbox`` and tests. Loading it by entry point
keeps the import graph one-way (the contracts in pyproject.toml check it): the product
never names ``toolkit.sandbox``, and the sandbox imports nothing of the product.
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import Any

from toolkit.core.errors import ConfigError

GROUP = "psbridge.sandbox"


@functools.cache
def sandbox_plugin() -> Any:
    """The sandbox's public module (``toolkit/sandbox/plugin.py`` in this distribution)."""
    found = entry_points(group=GROUP, name="embedded")
    if not found:
        raise ConfigError("the embedded sandbox is not installed",
                          hint="Reinstall psbridge (pip install psbridge), or use a profile "
                               "with a management host (psbridge profile add).")
    return next(iter(found)).load()
