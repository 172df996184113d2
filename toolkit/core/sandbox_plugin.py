"""The one way the product reaches the embedded sandbox: the entry point ``psbridge.sandbox``.

The sandbox is a separate piece (an emulated management host and tenant) that the product
uses for its default profile, ``psbridge sandbox`` and tests. Loading it by entry point
keeps the import graph one-way (the contracts in pyproject.toml check it): the product
never names ``toolkit.sandbox``, and the sandbox imports nothing of the product.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points
from typing import Any

from toolkit.core.errors import ConfigError

GROUP = "psbridge.sandbox"
BUNDLED = "toolkit.sandbox.plugin"  # this distribution's, when its metadata is not found


@functools.cache
def sandbox_plugin() -> Any:
    """The sandbox's public module: the ``embedded`` entry point of ``psbridge.sandbox``, else
    the one this distribution bundles (a source tree run without installing, or metadata
    a process cannot see)."""
    found = entry_points(group=GROUP, name="embedded")
    try:
        return next(iter(found)).load() if found else importlib.import_module(BUNDLED)
    except ImportError:
        raise ConfigError("the embedded sandbox is not installed",
                          hint="Reinstall psbridge (pip install psbridge), or use a profile "
                               "with a management host (psbridge profile add).") from None
