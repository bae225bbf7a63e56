"""The engine and the session factories.

The caller owns the transaction (STYLE.md): a request dependency, a CLI command or the job runner opens a
session from :class:`Database`, commits it, and closes it. Services only flush.

SQLite (the embedded default) runs in WAL mode. A transaction that will write starts with
``BEGIN IMMEDIATE``: taking the write lock up front means concurrent writers queue instead of failing with
"database is locked" when a read transaction tries to upgrade. The writers of one process queue on a
thread lock first (fair, unlike SQLite's polling busy handler), then on ``busy_timeout`` for writers in
other processes. Read-only sessions start a plain deferred transaction, so readers never wait for writers.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ombud.errors import ConfigurationError

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # In WAL mode NORMAL is durable across application crashes (SIGKILL); only a power loss can lose
    # the last commits. That is the trade-off every WAL deployment makes.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-64000",
    "PRAGMA temp_store=MEMORY",
)


# How long a writer waits for its turn among this process's writers (as long as SQLite's busy_timeout).
WRITE_TURN_SECONDS = 30.0
_HOLDS_TURN = "ombud.write_turn"


def _install_sqlite_hooks(engine: Engine) -> None:
    # The writers of one process (request threads and the in-process worker's threads) take turns here
    # before BEGIN IMMEDIATE. SQLite's own lock is not fair: a waiting writer polls with growing sleeps
    # while a new one that arrives as the lock frees takes it at once. Under 8 busy clients the worker's
    # triage waited minutes for a turn, and some requests waited past busy_timeout (503 database_busy).
    # A thread lock hands the turn to a waiting thread as soon as it is free. Writers in other processes
    # (the CLI) still meet SQLite's lock, which keeps it correct.
    turn = threading.Lock()

    def release(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_TURN, False):
            turn.release()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not conn.get_execution_options().get("ombud_write", False):
            conn.exec_driver_sql("BEGIN")
            return
        info = conn.connection.info
        if not info.get(_HOLDS_TURN):
            if not turn.acquire(timeout=WRITE_TURN_SECONDS):
                raise OperationalError(
                    "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                )
            info[_HOLDS_TURN] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            release(info)
            raise

    # The turn ends with the transaction (released just before the COMMIT or ROLLBACK itself: the next
    # writer's BEGIN IMMEDIATE then waits a moment on SQLite's lock), or when the pool takes the
    # connection back or drops it without either.
    @event.listens_for(engine, "commit")
    def _on_commit(conn: Connection) -> None:
        release(conn.connection.info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Connection) -> None:
        release(conn.connection.info)

    @event.listens_for(engine, "reset")
    def _on_reset(_dbapi_connection: Any, record: Any, _state: Any) -> None:
        release(record.info)

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection: Any, record: Any) -> None:
        release(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
        release(record.info)


def make_engine(url: str) -> Engine:
    """Return an engine for ``url``, with the SQLite set-up when it is SQLite."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"OMBUD_DATABASE_URL is not a database URL: {url!r}. "
            "Use sqlite:///path/to/ombud.db or postgresql+psycopg://user@host:5432/dbname."
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _install_sqlite_hooks(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise ConfigurationError(
        f"Unsupported database {backend!r} in OMBUD_DATABASE_URL: ombud runs on SQLite and PostgreSQL."
    )


class Database:
    """One engine and the two session factories built on it."""

    def __init__(self, url: str) -> None:
        # Every table must be known before the first query configures the mappers (foreign keys
        # cross domains by table name).
        import ombud.storage.models  # noqa: F401

        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self.reader = sessionmaker(self.engine, expire_on_commit=False)
        self.writer = sessionmaker(self.engine.execution_options(ombud_write=True), expire_on_commit=False)

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """Yield a session; the caller commits. Anything not committed is rolled back on exit."""
        factory = self.writer if write else self.reader
        with factory() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def race_savepoint(session: Session) -> contextlib.AbstractContextManager[Any]:
    """A savepoint around an insert that a concurrent transaction may win on a unique index: on
    PostgreSQL the loser's IntegrityError then spoils only the savepoint. SQLite needs none: it has one
    writer, and a write transaction holds it from its first statement (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "sqlite":
        return contextlib.nullcontext()
    return session.begin_nested()
