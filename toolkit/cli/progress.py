"""Progress of a bulk job: a rich bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from types import TracebackType
from typing import Any, TextIO

from toolkit.api.results import RowResult


class JobProgress:
    """Counts rows as results arrive (from any thread) and shows the progress."""

    PLAIN_INTERVAL = 5.0  # seconds between plain lines

    def __init__(self, total: int, *, label: str, stream: TextIO | None = None,
                 force_plain: bool = False):
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_line = self._started
        self._rich: Any = None
        self._task: Any = None
        if not force_plain and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._rich = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("[red]{task.fields[failed]} failed"),
                TextColumn("{task.fields[rate]} rows/s"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._task = self._rich.add_task(label, total=total, failed=0, rate="-")

    def __enter__(self) -> JobProgress:
        return self

    def begin(self) -> None:
        """Start drawing (after the caller's own first lines, so they are not overdrawn)."""
        self._started = self._last_line = time.monotonic()
        if self._rich is not None:
            self._rich.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self.done:
            self._plain_line(final=True)

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, results: list[RowResult]) -> None:
        with self._lock:
            for result in results:
                self.counts[result.status] += 1
            if self._rich is not None:
                self._rich.update(self._task, completed=self.done,
                                  failed=self.counts["failed"], rate=f"{self.rate():.1f}")
            elif time.monotonic() - self._last_line >= self.PLAIN_INTERVAL:
                self._plain_line()

    def _plain_line(self, final: bool = False) -> None:
        self._last_line = time.monotonic()
        word = "done" if final else "progress"
        self.stream.write(
            f"{self.label}: {word} {self.done}/{self.total} rows "
            f"({self.counts['failed']} failed), {self.rate():.1f} rows/s\n")
        self.stream.flush()
