"""How many pipelines may be in flight at once, adapting to the service's throttling."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class AdaptiveLimit:
    """How many pipelines may be in flight: halves on throttling, regrows while calm."""

    CALM_CHUNKS_TO_GROW = 3

    def __init__(self, maximum: int):
        self.maximum = maximum
        self.limit = maximum
        self._active = 0
        self._calm = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            while self._active >= self.limit:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def throttled(self, retry_after: float | None = None) -> None:
        """The service throttled a chunk (asking to wait ``retry_after`` seconds, if it said)."""
        with self._cond:
            self.limit = max(1, self.limit // 2)
            self._calm = 0

    def calm(self) -> None:
        with self._cond:
            self._calm += 1
            if self._calm >= self.CALM_CHUNKS_TO_GROW and self.limit < self.maximum:
                self.limit += 1
                self._calm = 0
                self._cond.notify_all()
