"""Limits every worker shares, kept in Redis: connection leases and throttling per tenant,
and the turns the deliveries of one task take (see :meth:`SharedLimits.once`).

A *scope* is one (management host, account, tenant, service): Exchange Online allows a
principal only so many concurrent connections (3), whichever machine opens them. A worker
takes a lease before it opens a connection and gives it back when it closes it; leases are
entries in a sorted set scored by their expiry, renewed by a background thread while held,
so the lease of a worker that dies (``kill -9``, a lost machine) lapses after
``LEASE_SECONDS`` and another worker may connect. Expiry uses the Redis server's clock,
so machines with skewed clocks agree.

When the service throttles a scope, every worker holds that scope's next pipelines until
the Retry-After it asked for has passed, instead of each worker learning it alone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from toolkit.core.concurrency import AdaptiveLimit

LEASE_SECONDS = 15.0
DEFAULT_THROTTLE_SECONDS = 2.0
log = logging.getLogger(__name__)

# KEYS[1]: the scope's lease set. ARGV: holder, cap, lease seconds. 1 when held.
_ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], t + tonumber(ARGV[3]), ARGV[1])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
  return 1
end
return 0
"""
# KEYS[1]: the scope's throttle key. ARGV: seconds. Moves "throttled until" later, never sooner.
_THROTTLE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local until_ = t + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000))
end
return 1
"""
# KEYS[1]: the scope's throttle key. Seconds left, as a string.
_REMAINING = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
return tostring(math.max(0, current - t))
"""


class SharedLimits:
    """Leases and throttling for every scope, through one Redis (the broker's, usually)."""

    def __init__(self, redis_url: str, *, prefix: str = "psbridge",
                 lease_seconds: float = LEASE_SECONDS):
        import redis

        self._redis = redis.Redis.from_url(redis_url)
        self.prefix = prefix
        self.lease_seconds = lease_seconds
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._throttle = self._redis.register_script(_THROTTLE)
        self._remaining = self._redis.register_script(_REMAINING)
        self._held: dict[str, str] = {}  # holder -> lease set key
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None

    def _key(self, kind: str, scope: str) -> str:
        return f"{self.prefix}:{kind}:{scope}"

    @contextlib.contextmanager
    def lease(self, scope: str, cap: int, stop: threading.Event | None = None
              ) -> Iterator[str]:
        """Hold one of ``cap`` connection leases of ``scope`` (waits for a free one)."""
        holder = self.acquire(scope, cap, stop)
        try:
            yield holder
        finally:
            self.release(holder)

    def acquire(self, scope: str, cap: int, stop: threading.Event | None = None) -> str:
        key = self._key("leases", scope)
        holder = uuid.uuid4().hex
        waited = False
        while not self._acquire(keys=[key], args=[holder, cap, self.lease_seconds]):
            if not waited:
                log.info("%s: %d lease(s) held across workers; waiting", scope, cap)
                waited = True
            if stop is not None and stop.is_set():
                raise InterruptedError("stopped while waiting for a connection lease")
            time.sleep(0.1)
        with self._lock:
            self._held[holder] = key
            self._start_renewer()
        return holder

    def release(self, holder: str) -> None:
        with self._lock:
            key = self._held.pop(holder, None)
        if key is not None:
            self._redis.zrem(key, holder)

    def holders(self, scope: str) -> int:
        """Live leases of a scope (for tests and status)."""
        key = self._key("leases", scope)
        self._redis.zremrangebyscore(key, "-inf", self._now())
        return int(self._redis.zcard(key))

    def _now(self) -> float:
        seconds, micros = self._redis.time()
        return float(seconds) + micros / 1_000_000

    def _start_renewer(self) -> None:
        """Called with the lock held."""
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, name="psbridge-leases",
                                             daemon=True)
            self._renewer.start()

    def _renew(self) -> None:
        while True:
            time.sleep(self.lease_seconds / 3)
            with self._lock:  # decided under the lock acquire() starts a renewer under
                held = dict(self._held)
                if not held:
                    self._renewer = None
                    return
            expiry = self._now() + self.lease_seconds
            for holder, key in held.items():
                with contextlib.suppress(Exception):  # Redis away: the lease lapses
                    self._redis.zadd(key, {holder: expiry}, xx=True)

    @contextlib.contextmanager
    def once(self, task_id: str, keep_seconds: float) -> Iterator[Once]:
        """One delivery of a task at a time, and the first outcome kept.

        Redis delivers a task again when it has not ended within the visibility timeout,
        even while its first delivery is still running (Celery's "Using Redis" caveats). The
        deliveries of ``task_id`` take turns through a lease (a dead holder's lapses); inside,
        ``.kept`` is the outcome an earlier delivery recorded with ``.keep(outcome)``, or None.
        """
        with self.lease(f"task|{task_id}", 1):
            key = self._key("outcome", task_id)
            kept = self._redis.get(key)
            yield Once(None if kept is None else json.loads(kept),
                       lambda outcome: self._redis.set(key, json.dumps(outcome),
                                                       ex=max(1, int(keep_seconds))))

    def throttle(self, scope: str, seconds: float) -> None:
        self._throttle(keys=[self._key("throttled", scope)], args=[max(0.1, seconds)])

    def throttled_for(self, scope: str) -> float:
        return float(self._remaining(keys=[self._key("throttled", scope)]))


@dataclass(frozen=True)
class Once:
    """Inside :meth:`SharedLimits.once`: an earlier delivery's outcome, and how to keep one."""

    kept: dict[str, Any] | None
    keep: Callable[[dict[str, Any]], object]


class SharedThrottleLimit(AdaptiveLimit):
    """A worker's pipelines-in-flight limit that also honours throttling seen elsewhere."""

    def __init__(self, maximum: int, limits: SharedLimits, scope: str):
        super().__init__(maximum)
        self.limits = limits
        self.scope = scope

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        while (left := self.limits.throttled_for(self.scope)) > 0:
            log.info("%s is throttled; holding the next pipeline %.1fs", self.scope, left)
            time.sleep(min(left, 1.0))
        with super().slot():
            yield

    def throttled(self, retry_after: float | None = None) -> None:
        super().throttled(retry_after)
        self.limits.throttle(self.scope, retry_after or DEFAULT_THROTTLE_SECONDS)


def scope_of(endpoint_url: str, account: str | None, tenant: str | None,
             services: Any) -> str:
    """The scope a connection counts against: host, account, tenant and services."""
    from urllib.parse import urlsplit

    host = urlsplit(endpoint_url).netloc.casefold()
    return "|".join([host, (account or "").casefold(), (tenant or "").casefold(),
                     "+".join(sorted(services))])
