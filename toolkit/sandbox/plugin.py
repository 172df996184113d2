"""What the product may use of the sandbox, and nothing else.

psbridge finds this module through the entry point ``psbridge.sandbox`` (pyproject.toml)
and never imports ``toolkit.sandbox`` by name, so the sandbox can be left out of an
install, or replaced, without touching the product.
"""

from toolkit.sandbox.errors import SandboxUnavailable
from toolkit.sandbox.pwsh.runspace import DEFAULT_HOST_MODULES
from toolkit.sandbox.server import DEFAULT_USERNAME, RunningSandbox, SandboxOptions, start_sandbox
from toolkit.sandbox.shared import connect_shared, read_record, stop_shared

__all__ = ["DEFAULT_HOST_MODULES", "DEFAULT_USERNAME", "RunningSandbox", "SandboxOptions",
           "SandboxUnavailable", "connect_shared", "read_record", "start_sandbox",
           "stop_shared"]
