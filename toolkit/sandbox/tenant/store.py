"""The thread-safe home of the emulated world, with optional persistence to a JSON file.

Pipelines run on several threads, so every read and write goes through one re-entrant
lock (:meth:`TenantStore.read` / :meth:`TenantStore.write`). Time-driven processes
(mailboxes appearing after a licence, migration users moving through their states) are
advanced lazily each time the store is entered, from an injectable clock, so tests can
step time instead of sleeping.

With a state file, the whole world is written with an atomic replace (temporary file,
fsync, ``os.replace``) and reloaded on start. A change made outside a pipeline is written
at once; inside a pipeline (:meth:`TenantStore.deferred_saves`, used by the backend around
every pipeline) the world is written once when the pipeline ends. Writing a large tenant
after each of a chunk's hundreds of changes made bulk jobs crawl (about 2 rows/s for a
2,000-mailbox tenant); one write per pipeline keeps the file as durable as what the client
can know: a pipeline cut short by a crash has reported nothing back either.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from toolkit.sandbox.tenant import licensing, migration_sync
from toolkit.sandbox.tenant.codec import from_jsonable, to_jsonable
from toolkit.sandbox.tenant.identity_resolution import Resolver
from toolkit.sandbox.tenant.model import Account, Tenant, World

Clock = Callable[[], float]
STATE_FORMAT = 1


@dataclass(frozen=True)
class TenantSettings:
    """Knobs of the emulated services (``--mailbox-delay-s``, ``--migration-speed``)."""

    mailbox_delay_s: float = 5.0
    migration_speed: float = 1.0


class StateFileError(Exception):
    """The state file exists but cannot be read back."""


class TenantStore:
    def __init__(
        self,
        world: World,
        *,
        settings: TenantSettings | None = None,
        state_path: Path | None = None,
        clock: Clock = time.time,
        random_seed: int | None = None,
    ):
        self.world = world
        self.settings = settings or TenantSettings()
        self.state_path = state_path
        self.clock = clock
        self._rng = random.Random(random_seed)
        self._lock = threading.RLock()
        self._resolvers: dict[str, tuple[int, int, Resolver]] = {}
        self._due_mailboxes: dict[str, tuple[int, set[str]]] = {}
        self._pipeline = threading.local()  # per-thread deferral of saves
        if self.world.last_tick is None:
            self.world.last_tick = clock()
        if state_path is not None:
            self.save()

    @classmethod
    def open(
        cls,
        seed: Callable[[], World],
        *,
        state_path: Path | None = None,
        settings: TenantSettings | None = None,
        clock: Clock = time.time,
        random_seed: int | None = None,
    ) -> TenantStore:
        """The store from ``state_path`` when it exists, else from ``seed()``."""
        world = load_state(state_path) if state_path and state_path.exists() else seed()
        return cls(
            world, settings=settings, state_path=state_path, clock=clock, random_seed=random_seed
        )

    # ------------------------------------------------------------------ access

    @contextmanager
    def read(self) -> Iterator[World]:
        with self._lock:
            self._advance()
            yield self.world

    @contextmanager
    def write(self) -> Iterator[World]:
        """Enter to change the world; it is saved on the way out, even after an error.

        Operations validate before they mutate, so a failed operation normally changed
        nothing; saving anyway keeps the file equal to memory if one did.
        """
        with self._lock:
            self._advance()
            try:
                yield self.world
            finally:
                self._changed()

    def tenant(self, world: World, name_or_id: str) -> Tenant:
        """A tenant by initial domain, any of its domains, or id."""
        folded = name_or_id.casefold()
        for tenant in world.tenants.values():
            if tenant.id.casefold() == folded or tenant.domain(folded) is not None:
                return tenant
            if tenant.name.casefold() == folded:
                return tenant
        raise KeyError(name_or_id)

    def account(self, username: str) -> Account | None:
        with self._lock:
            folded = username.casefold()
            return next((a for a in self.world.accounts if a.username.casefold() == folded), None)

    def resolver(self, tenant: Tenant) -> Resolver:
        """Identity resolution for ``tenant``, cached until a name, address or UPN changes
        (``Tenant.directory_revision``); permission changes keep the cache."""
        with self._lock:
            cached = self._resolvers.get(tenant.name)
            if cached is None or cached[:2] != (id(tenant), tenant.directory_revision):
                cached = (id(tenant), tenant.directory_revision, Resolver(tenant))
                self._resolvers[tenant.name] = cached
            return cached[2]

    def due_mailboxes(self, tenant: Tenant) -> set[str]:
        """The ids of ``tenant``'s users waiting for a mailbox (``User.mailbox_due`` set).

        Built by one scan of the users, then kept up to date by
        :func:`licensing.schedule_mailbox` and :func:`licensing.provision_due_mailboxes`:
        the store is entered for every cmdlet call, and scanning every user each time made
        a whole-tenant audit quadratic in the number of users.
        """
        with self._lock:
            cached = self._due_mailboxes.get(tenant.name)
            if cached is None or cached[0] != id(tenant):
                cached = (id(tenant), {u.id for u in tenant.users.values()
                                       if u.mailbox_due is not None})
                self._due_mailboxes[tenant.name] = cached
            return cached[1]

    # ------------------------------------------------------------------ services for operations

    def now(self) -> float:
        return self.clock()

    def new_guid(self) -> str:
        """A random GUID, repeatable under a ``random_seed``."""
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def random(self) -> random.Random:
        return self._rng

    # ------------------------------------------------------------------ time

    def _advance(self) -> None:
        now = self.clock()
        last = self.world.last_tick if self.world.last_tick is not None else now
        elapsed = max(0.0, now - last)
        self.world.last_tick = now
        changed = False
        for tenant in self.world.tenants.values():
            changed |= licensing.provision_due_mailboxes(self, tenant, now)
            changed |= migration_sync.advance(self, tenant, elapsed * self.settings.migration_speed)
        if changed:
            self._changed()

    # ------------------------------------------------------------------ persistence

    def _changed(self) -> None:
        """Save now, or when this thread's pipeline ends."""
        if getattr(self._pipeline, "depth", 0):
            self._pipeline.dirty = True
        else:
            self.save()

    @contextmanager
    def deferred_saves(self) -> Iterator[None]:
        """Within this block, this thread's changes are written once, at its end."""
        depth = getattr(self._pipeline, "depth", 0)
        self._pipeline.depth = depth + 1
        try:
            yield
        finally:
            self._pipeline.depth = depth
            if depth == 0 and getattr(self._pipeline, "dirty", False):
                self._pipeline.dirty = False
                self.save()

    def save(self) -> None:
        if self.state_path is None:
            return
        with self._lock:
            data = {"format": STATE_FORMAT, "world": to_jsonable(self.world)}
            path = self.state_path
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            # The state holds passwords (accounts, IMAP sources, CSV rows): owner-only.
            descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)


def load_state(path: Path) -> World:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StateFileError(f"cannot read sandbox state file {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise StateFileError(
            f"{path} is not a psbridge sandbox state file (format {STATE_FORMAT}); "
            "delete it or point --state elsewhere"
        )
    return from_jsonable(World, data["world"])


__all__ = ["StateFileError", "TenantSettings", "TenantStore", "load_state"]
