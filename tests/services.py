"""The real services the distributed tests use: PostgreSQL and a Celery broker (Redis, or
RabbitMQ).

URLs come from ``PSBRIDGE_TEST_STORE``, ``PSBRIDGE_TEST_BROKER`` and ``PSBRIDGE_TEST_AMQP``
(defaults: the local PostgreSQL, Redis and RabbitMQ). Each test gets its own database, Redis
database/key prefix or RabbitMQ queue (a test cannot create a vhost: the management port is
closed) and cleans up. A service that cannot be reached skips the test with the reason, except under
``CI=true``, where it fails: CI must not pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

STORE = os.environ.get("PSBRIDGE_TEST_STORE", "postgresql://postgres@127.0.0.1:5432/test")
BROKER = os.environ.get("PSBRIDGE_TEST_BROKER", "redis://127.0.0.1:6379/0")
AMQP = os.environ.get("PSBRIDGE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def unavailable(service: str, url: str, reason: object) -> None:
    message = f"{service} at {url} is not reachable ({reason})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + "; CI=true, so this fails instead of skipping")
    pytest.skip(message)


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server, dropped afterwards; yields its URL."""
    import psycopg

    try:
        admin = psycopg.connect(STORE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", STORE, str(exc).strip().splitlines()[0])
    name = f"psbridge_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_path(STORE, "/" + name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_broker() -> Iterator[str]:
    """A Redis database number of its own (flushed before and after); yields its URL."""
    import redis

    base = redis.Redis.from_url(BROKER, socket_connect_timeout=5)
    try:
        base.ping()
    except redis.RedisError as exc:
        unavailable("Redis", BROKER, exc)
    # Databases 1-15 are handed out one per test run through a lock key in database 0.
    for number in range(1, 16):
        if base.set(f"psbridge-test-db:{number}", "1", nx=True, ex=3600):
            break
    else:
        pytest.fail("every Redis test database (1-15) is in use")
    url = _with_path(BROKER, f"/{number}")
    own = redis.Redis.from_url(url)
    own.flushdb()
    try:
        yield url
    finally:
        own.flushdb()
        base.delete(f"psbridge-test-db:{number}")


@contextmanager
def amqp_queue() -> Iterator[tuple[str, str]]:
    """A queue of its own on the test RabbitMQ (``[queue] queue``), deleted afterwards with
    its exchange; yields the broker URL and the queue name."""
    from kombu import Connection, Exchange, Queue
    from kombu.exceptions import OperationalError

    name = f"psbridge-test-{uuid.uuid4().hex[:12]}"
    with Connection(AMQP, connect_timeout=5) as connection:
        try:
            connection.ensure_connection(max_retries=1)
        except (OSError, OperationalError) as exc:
            unavailable("RabbitMQ", AMQP, exc)
        try:
            yield AMQP, name
        finally:
            channel = connection.channel()
            Queue(name, Exchange(name), name, channel=channel).delete()
            Exchange(name, channel=channel).delete()
