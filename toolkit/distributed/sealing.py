"""Secrets sealed for the broker: a chunk's secret cells and parameters travel encrypted.

A template's secret columns (an activation's temporary passwords) and secret parameters
leave the CLI only inside one Fernet token per chunk task, under a key the CLI and every
worker share: ``PSBRIDGE_QUEUE_KEY`` (the key itself) when set, else the file named by
``[queue] secret_key_file``. The broker, the results backend and the store see the token
only. A worker that cannot open the token (no key, another key) fails the chunk's rows
with :data:`KEY_MISMATCH`; the secret never reaches a log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from toolkit.core.errors import ConfigError
from toolkit.core.runner import WorkRow
from toolkit.core.template_meta import TemplateMeta

KEY_ENV = "PSBRIDGE_QUEUE_KEY"
KEY_HINT = (
    "Create a key once and give it to the CLI and every worker, as a file named by [queue] "
    f"secret_key_file (mode 0600) or in {KEY_ENV}: python -c \"from cryptography.fernet "
    "import Fernet; print(Fernet.generate_key().decode())\" (see README, Teams and MSPs).")
KEY_MISMATCH = (
    f"this worker cannot open the task's sealed secrets: its queue key ({KEY_ENV} or [queue] "
    "secret_key_file) is missing or is not the one the CLI sealed them with; nothing was "
    "sent for this row")
KEY_MISMATCH_ID = "QueueKeyMismatch"


class SealBroken(Exception):
    """The token cannot be opened with this machine's queue key (or there is none)."""


@dataclass(frozen=True)
class Secrets:
    """What a plan must seal: the secret columns and parameters of all its steps
    (case-folded: PowerShell names are case-insensitive, as the journal's are)."""

    columns: frozenset[str]
    params: frozenset[str]

    @classmethod
    def of(cls, metas: Iterable[TemplateMeta]) -> Secrets:
        steps = list(metas)
        return cls(frozenset(c.casefold() for m in steps for c in m.secret_columns),
                   frozenset(n.casefold() for m in steps for n, p in m.params.items()
                             if p.secret))

    def __bool__(self) -> bool:
        return bool(self.columns or self.params)

    def split(self, values: Mapping[str, Any], names: frozenset[str]
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``values`` (a row's data, the parameters) as what travels in plain text and
        what is sealed (the entries ``names`` holds)."""
        plain = {k: v for k, v in values.items() if k.casefold() not in names}
        return plain, {k: v for k, v in values.items() if k not in plain}


def queue_key() -> Fernet | None:
    """This machine's queue key, or None when it has none; a malformed key is refused."""
    from toolkit.distributed.settings import broker_settings

    source, text = KEY_ENV, os.environ.get(KEY_ENV, "").strip()
    if not text:
        path = broker_settings().secret_key_file
        if path is None:
            return None
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"[queue] secret_key_file {path}: {exc.strerror}",
                              hint=KEY_HINT) from None
    try:
        return Fernet(text.encode())
    except ValueError:
        raise ConfigError(f"{source}: not a Fernet key (32 url-safe base64-encoded bytes)",
                          hint=KEY_HINT) from None


def require_key(what: str) -> Fernet:
    """The queue key, or the refusal (exit 2) of sending ``what`` without one."""
    key = queue_key()
    if key is None:
        raise ConfigError(f"{what} takes secrets, and --distributed sends them to the workers "
                          f"only sealed with a queue key: none is set ({KEY_ENV} or [queue] "
                          "secret_key_file)", hint=KEY_HINT)
    return key


def seal_chunk(key: Fernet, secrets: Secrets, params: Mapping[str, Any],
               rows: Iterable[WorkRow]) -> str:
    """One token holding the secret parameters and each row's secret cells."""
    cells = {str(w.row): secrets.split(w.data, secrets.columns)[1] for w in rows}
    sealed = {"params": secrets.split(params, secrets.params)[1], "cells": cells}
    return key.encrypt(json.dumps(sealed).encode()).decode()


def open_chunk(token: str) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The secret parameters and each row's secret cells of a sealed chunk."""
    try:
        key = queue_key()
    except ConfigError as exc:
        raise SealBroken(exc.message) from None
    if key is None:
        raise SealBroken("no queue key")
    try:
        sealed = json.loads(key.decrypt(token.encode()))
    except InvalidToken:
        raise SealBroken("the queue key differs") from None
    return dict(sealed["params"]), {int(r): dict(c) for r, c in sealed["cells"].items()}
