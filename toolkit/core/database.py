"""The job store's database connection: SQLite (the default) or a shared PostgreSQL.

The store's SQL is written once, in SQLite's spelling (``?`` placeholders,
``INSERT OR IGNORE``); :class:`Database` runs it on either engine, so the journal and the
snapshot tables have one implementation. Rows read back support both ``row["name"]`` and
``row[0]`` on both engines.

Where the store is: ``[store] url`` in the configuration (``postgresql://user@host/db``),
else ``jobs.sqlite3`` under the data folder. SQLite stores bring their own schema up to date
when opened (as they always have); a PostgreSQL store is shared by several agents and
workers, so its schema only moves with ``psbridge store migrate`` and a store that is behind
is refused with that hint (see :mod:`toolkit.core.migrations`).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from toolkit.core import paths
from toolkit.core.errors import ConfigError, ConnectionFailed

POSTGRES_SCHEMES = ("postgresql", "postgres")


def default_path() -> Path:
    return paths.data_dir() / "jobs.sqlite3"


def configured_location() -> Path | str:
    """The store the configuration names (a PostgreSQL URL), else the local SQLite file."""
    from toolkit.core.config import load

    return load().store_url or default_path()


def is_postgres(location: Path | str) -> bool:
    return isinstance(location, str) and urlsplit(location).scheme in POSTGRES_SCHEMES


def shown(location: Path | str) -> str:
    """The location for messages: a URL's password is never printed."""
    if not is_postgres(location):
        return str(location)
    parts = urlsplit(str(location))
    if parts.password is None:
        return str(location)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class Row(tuple):
    """A PostgreSQL row readable by column name and by position, like ``sqlite3.Row``."""

    names: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self.names[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor: Any) -> Any:
    names = {d.name: i for i, d in enumerate(cursor.description or ())}
    kind = type("Row", (Row,), {"names": names})
    return lambda values: kind(values)


_PLACEHOLDER = re.compile(r"\?")
# Addresses are compared case-insensitively, as Exchange does: ``fold(x)`` is Python's
# casefold on SQLite (its own lower() folds ASCII only) and lower() on PostgreSQL.
_FOLD = re.compile(r"\bfold\(")
_CHAR = re.compile(r"\bchar\(")  # SQLite's char(10) is PostgreSQL's chr(10)
_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT OR IGNORE INTO", re.IGNORECASE)


def _postgres_sql(sql: str) -> str:
    """SQLite's spelling of the store's statements, in PostgreSQL's."""
    translated = _CHAR.sub("chr(", _FOLD.sub("lower(", _PLACEHOLDER.sub("%s", sql)))
    if _INSERT_OR_IGNORE.match(translated):
        translated = _INSERT_OR_IGNORE.sub("INSERT INTO", translated) + " ON CONFLICT DO NOTHING"
    return translated


class Database:
    """One connection to the store. Not shared between threads."""

    def __init__(self, location: Path | str):
        self.location = location
        self.dialect = "postgresql" if is_postgres(location) else "sqlite"
        if self.dialect == "postgresql":
            self._conn: Any = _connect_postgres(str(location))
        else:
            path = Path(location)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.create_function("fold", 1, _fold, deterministic=True)
            path.chmod(0o600)

    def _sql(self, sql: str) -> str:
        return _postgres_sql(sql) if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the cursor it returns iterates and fetches rows."""
        return self._conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        if self.dialect == "postgresql":
            with self._conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), [tuple(p) for p in params])
        else:
            self._conn.executemany(sql, params)

    def script(self, statements: str) -> None:
        """Several statements (schema changes, no ``;`` inside them), in the dialect they
        are written for; one by one, so they stay inside the caller's transaction."""
        for statement in statements.split(";"):
            if statement.strip():
                self._conn.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        if self.dialect == "postgresql":
            with self._conn.transaction():
                yield self
            return
        # BEGIN inside the try: Ctrl-C is raised as soon as a blocking BEGIN returns, and a
        # transaction left open there held the write lock, so the workers' outcomes
        # waited past the Ctrl-C grace and their rows were left unknown.
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            yield self
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fold(value: str | None) -> str | None:
    return None if value is None else str(value).casefold()


def _connect_postgres(url: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            "[store] url names a PostgreSQL store but psycopg is not installed",
            hint="pip install 'psbridge[distributed]'",
        ) from None
    try:
        return psycopg.connect(url, autocommit=True, row_factory=_row_factory,
                               connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConnectionFailed(f"cannot reach the job store {shown(url)}: {reason}",
                               hint="Check [store] url in the configuration and that "
                               "PostgreSQL is running.") from None
