"""The sandbox's own errors: a message plus a hint, without importing the product.

The product prints them as its own (``error: <message>`` then ``hint: <hint>``): it
wraps them where it calls into the sandbox, so the sandbox stays sealed off from it.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base of the errors the sandbox reports to whoever started it.

    ``hint`` is one sentence telling the user what to do about it.
    """

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class SandboxUnavailable(SandboxError):
    """The sandbox cannot start (no backend available, port taken, bad options)."""
