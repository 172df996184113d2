"""Helpers shared by the tenant tests (importable, unlike conftest)."""

from __future__ import annotations

from typing import Any


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_750_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Warnings(list[str]):
    """Collects the warnings an operation writes."""

    def __call__(self, message: str) -> None:
        self.append(message)


def ok(result: Any) -> list[Any]:
    """The output of a run that must have had no error, warning or failure."""
    assert result.failed is None, result.failed
    assert not result.errors, [e.message for e in result.errors]
    return list(result.output)
