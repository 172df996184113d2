"""Network conditions the sandbox can simulate: latency and injected request failures.

Every random choice comes from one ``random.Random`` seeded with ``--random-seed``, drawn
once per eligible request in arrival order, so a single-threaded client sees the same
failures on every run.
"""

from __future__ import annotations

import random
import threading
import time
from enum import Enum


class InjectedFault(Enum):
    HTTP_500 = "http-500"
    DROP_CONNECTION = "drop-connection"


class NetworkConditions:
    def __init__(
        self, latency_ms: int = 0, fault_rate: float = 0.0, random_seed: int | None = None
    ):
        if latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        self.latency = latency_ms / 1000
        self.fault_rate = fault_rate
        self._random = random.Random(random_seed)
        self._lock = threading.Lock()

    def delay(self) -> None:
        """Hold a response back by the configured latency."""
        if self.latency:
            time.sleep(self.latency)

    def draw_fault(self) -> InjectedFault | None:
        if not self.fault_rate:
            return None
        with self._lock:
            if self._random.random() >= self.fault_rate:
                return None
            return self._random.choice(list(InjectedFault))
