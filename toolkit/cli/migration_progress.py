"""Progress of migration batches for ``migrate imap status --watch``: one rich bar per
batch on a terminal (users done, users by state, items synced), plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, TextIO

from toolkit.api.migrations import BatchState
from toolkit.api.results import visible


def _done(batch: BatchState) -> int:
    counts = batch.counts
    return counts["synced"] + counts["failed"] + counts["stopped"]


def _items(batch: BatchState) -> str:
    if not batch.items_total:
        return "items not counted yet"
    return f"{batch.items_synced:,}/{batch.items_total:,} items"


class BatchWatch:
    """Shows batches each time :meth:`show` is called with fresh states."""

    HEARTBEAT = 60.0  # plain mode: repeat an unchanged line after this many seconds

    def __init__(self, *, stream: TextIO | None = None, force_plain: bool = False):
        self.stream = stream or sys.stderr
        self._rich: Any = None
        self._tasks: dict[str, Any] = {}
        self._last: dict[str, tuple[str, float]] = {}
        if not force_plain and self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._rich = Progress(
                TextColumn("[bold]{task.description}"),
                TextColumn("{task.fields[status]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("users  {task.fields[states]}"),
                TextColumn("[cyan]{task.fields[items]}"),
                console=Console(file=self.stream),
            )

    def __enter__(self) -> BatchWatch:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.stop()

    def show(self, batches: Sequence[BatchState]) -> None:
        for batch in batches:
            if self._rich is not None:
                self._show_rich(batch)
            else:
                self._show_plain(batch)

    def _show_rich(self, batch: BatchState) -> None:
        from rich.markup import escape

        # Batch names and states come from the tenant: shown literally, never as markup.
        fields = {"status": escape(visible(batch.status)),
                  "states": escape(visible(batch.state_text())), "items": _items(batch)}
        task = self._tasks.get(batch.name)
        if task is None:
            self._tasks[batch.name] = self._rich.add_task(
                escape(visible(batch.name)), total=len(batch.users) or 1,
                completed=_done(batch), **fields)
        else:
            self._rich.update(task, total=len(batch.users) or 1, completed=_done(batch),
                              **fields)

    def _show_plain(self, batch: BatchState) -> None:
        line = (f"{batch.name}: {batch.status}, {_done(batch)}/{len(batch.users)} users done "
                f"({batch.state_text()}), {_items(batch)}")
        previous = self._last.get(batch.name)
        now = time.monotonic()
        if previous is not None and previous[0] == line and now - previous[1] < self.HEARTBEAT:
            return
        self._last[batch.name] = (line, now)
        self.stream.write(visible(line) + "\n")
        self.stream.flush()
