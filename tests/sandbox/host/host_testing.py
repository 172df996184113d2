"""Accounts and helpers shared by the host tests (a plain module: test files import it).

Kept out of conftest.py: several test folders have one, and ``from conftest import``
would pick whichever pytest registered last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pypsrp.wsman import WSMan

from toolkit.sandbox.server import RunningSandbox

ADMIN = ("admin", "P@ss-w0rd!")
AGENT = ("agent1", "Helpd3sk#1")

StartSandbox = Callable[..., RunningSandbox]


def basic_wsman(sandbox: RunningSandbox, credentials: tuple[str, str] = ADMIN,
                **kwargs: Any) -> WSMan:
    """A pypsrp connection with Basic auth over plain HTTP."""
    return WSMan("127.0.0.1", port=sandbox.port, ssl=False, auth="basic", encryption="never",
                 username=credentials[0], password=credentials[1], **kwargs)
