"""How often opening a shell is tried before the host's failure is the verdict (exit 4):
the README states these numbers (issue 19, item 2)."""

from __future__ import annotations

from typing import Any

import pytest

from toolkit.core import target as target_module
from toolkit.core.errors import TransportFault
from toolkit.core.target import Target


def _tries(monkeypatch: pytest.MonkeyPatch, *, refused: bool) -> int:
    tries: list[int] = []

    def failing(endpoint: Any, ledger: Any) -> None:
        tries.append(1)
        fault = TransportFault("the host failed")
        fault.refused = refused
        raise fault

    monkeypatch.setattr(target_module, "Connection", failing)
    monkeypatch.setattr(target_module.time, "sleep", lambda seconds: None)
    with pytest.raises(TransportFault):
        Target(profile=None, endpoint=None).open_connection()  # type: ignore[arg-type]
    return len(tries)


def test_a_failing_host_is_tried_6_times_and_3_when_it_refuses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert _tries(monkeypatch, refused=False) == 6
    assert _tries(monkeypatch, refused=True) == 3
