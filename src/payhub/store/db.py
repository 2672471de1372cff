"""Engine and transactions for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with `synchronous=FULL`: the inbound path commits durably before it
acknowledges a gateway. Every SQLite transaction starts with `BEGIN IMMEDIATE`, taking the
write lock up front, so two writers never deadlock on a lock upgrade. On PostgreSQL the
payment row is locked with `SELECT ... FOR UPDATE` inside the transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker

from payhub.store import guard
from payhub.store.group_commit import GroupCommitWriter
from payhub.store.staging import write_staged
from payhub.store.tx import Tx

Ts = TypeVarTuple("Ts")
T = TypeVar("T")


_DATETIME_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
_SQLALCHEMY_FORMAT = SQLITE_DATETIME()._storage_format  # type: ignore[no-untyped-call]


class _SQLiteDateTime(SQLITE_DATETIME):
    """SQLite's DATETIME, writing exactly the text SQLAlchemy's writes, in half the time.

    SQLAlchemy formats each value through a dict of its fields (2 µs); a webhook binds a
    dozen datetimes, most of them the same `now`. This formats from a tuple (1.1 µs) and
    keeps the last value's text, so a repeat of the same object costs 0.1 µs. Any other
    storage format, and dates, go to SQLAlchemy's own processor."""

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        fallback = super().bind_processor(dialect)
        if self._storage_format != _SQLALCHEMY_FORMAT or fallback is None:
            return fallback
        last: tuple[object, str] = (None, "")

        def process(value: Any) -> Any:
            nonlocal last
            seen = last  # one read: other threads may replace it meanwhile
            if value is seen[0] and value is not None:
                return seen[1]
            if type(value) is not datetime:
                return fallback(value)
            text = _DATETIME_TEXT % (
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
            )
            last = (value, text)
            return text

        return process


class ImmediateSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite whose transactions begin with `BEGIN IMMEDIATE` (the write lock up front).

    The pysqlite driver is put in autocommit mode on connect and the dialect begins each
    transaction itself. This is SQLAlchemy's "begin" event recipe done in the dialect: an
    engine with any connection event listener pays for event dispatch on every statement."""

    supports_statement_cache = True  # it compiles exactly as its parent does
    begin_statement = "BEGIN IMMEDIATE"
    colspecs = {**SQLiteDialect_pysqlite.colspecs, DateTime: _SQLiteDateTime}  # noqa: RUF012

    def do_begin(self, dbapi_connection: Any) -> None:
        dbapi_connection.execute(self.begin_statement)


class DeferredSQLiteDialect(ImmediateSQLiteDialect):
    """The same with a plain deferred `BEGIN`: read transactions, which WAL lets run beside
    the writer."""

    supports_statement_cache = True
    begin_statement = "BEGIN"


registry.register("sqlite.payhub_immediate", __name__, "ImmediateSQLiteDialect")
registry.register("sqlite.payhub_deferred", __name__, "DeferredSQLiteDialect")


def create_db_engine(url: str, *, pool_size: int = 8, immediate: bool = True) -> Engine:
    """An engine configured for payhub's durability and locking rules."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        driver = "sqlite+payhub_immediate" if immediate else "sqlite+payhub_deferred"
        engine = create_engine(
            parsed.set(drivername=driver),
            pool_size=pool_size,
            max_overflow=8,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=8, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit in the driver: the dialect's do_begin issues BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if not parsed.get_backend_name().startswith("sqlite"):
        return None
    if parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """The engine plus session factories; `write()`, `run_write()` and (for code that has
    not moved to store operations yet) `transaction()` are the only ways to write.

    On SQLite, writers are serialised in-process by a lock before `BEGIN IMMEDIATE`, so
    threads queue in order instead of spinning in SQLite's busy handler; reads use a second
    engine with deferred transactions, which WAL lets run beside the writer. Async callers
    on both databases write through a group-commit thread (store.group_commit).
    """

    def __init__(self, url: str) -> None:
        guard.configure_from_env()
        self.url = url
        self.engine = create_db_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock: threading.Lock | None = None
        self.read_engine = self.engine
        if is_sqlite(self.engine):
            self._write_lock = threading.Lock()
            self.read_engine = create_db_engine(url, immediate=False)
        # On PostgreSQL the writer's lock is its own: other writers there lock only rows.
        self._group_writer = GroupCommitWriter(self._sessions, self._write_lock or threading.Lock())
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction for store operations: commits on success (durably), rolls
        back on any error."""
        with self.transaction() as session:
            yield Tx(session)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction on an ORM session: commits on success (durably), rolls back on
        any error. Services use `write()`; this stays for code outside them that writes
        through the ORM directly (demo.py) until it moves to store operations."""
        if self._write_lock is None:
            with self._sessions() as session, session.begin():
                yield session
                write_staged(session)
            return
        with self._write_lock, self._sessions() as session, session.begin():
            yield session
            write_staged(session)

    async def run_write(self, fn: Callable[[Tx, *Ts], T], *args: *Ts) -> T:
        """`fn(tx, *args)` in a transaction, from async code; its result once committed.

        The call joins a group-commit batch: one transaction and one durable commit for
        every write queued meanwhile (store.group_commit). On SQLite that spares an fsync
        and a write-lock hand-off per write; on PostgreSQL a WAL flush, a round trip and a
        thread hop per write (`make bench`: 150 → 294 webhooks/s there)."""
        return await self._group_writer.run(fn, *args)

    def session(self) -> Session:
        """A session for reading (never commit writes through it)."""
        return self._read_sessions()

    def dispose(self) -> None:
        self._group_writer.close()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
