"""Engine and session factories: SQLite gets WAL, busy timeout, foreign keys, early write locks."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_LOCK_POLL_SECONDS = 0.001


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite connections get WAL, ``busy_timeout`` and foreign keys."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 40)
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
    _configure_sqlite(engine)
    return engine


_SYNCHRONOUS = "labelloop_synchronous"  # the connection's setting, kept in its pool record


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas per connection, and our own BEGIN so writers can take the lock up front.

    ``synchronous=FULL`` with WAL fsyncs every commit: an acknowledged label survives a
    killed process and a power loss. Sessions of ``Database.soft_writer`` write only soft
    state (leases): their commits skip the fsync (``synchronous=NORMAL``, set before BEGIN
    as SQLite requires; the next FULL commit's fsync covers their WAL frames too). A killed
    process loses none of it; a power loss may forget a lease, and the item is then served
    again, as when a lease expires. Labels are never written in such a session. Writers
    start with ``BEGIN IMMEDIATE`` so a
    read-then-write transaction waits on ``busy_timeout`` instead of failing with
    "database is locked" when it upgrades.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite must not issue BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        synchronous = "NORMAL" if options.get("sqlite_soft_state") else "FULL"
        if conn.info.get(_SYNCHRONOUS, "FULL") != synchronous:  # outside a transaction only
            conn.exec_driver_sql(f"PRAGMA synchronous={synchronous}")
            conn.info[_SYNCHRONOUS] = synchronous
        if options.get("sqlite_write"):
            _begin_immediate(conn.connection.dbapi_connection)
        else:
            conn.exec_driver_sql("BEGIN")


def _begin_immediate(dbapi_conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, trying again every millisecond while another process writes.

    SQLite's own busy handler sleeps between tries, backing off to 100 ms: a web request
    waiting behind the worker's 5 ms transaction then often slept tens of milliseconds
    more. Gives up, like ``busy_timeout``, after SQLITE_BUSY_TIMEOUT_MS ("database is
    locked", which the API answers with a 503).
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    # wrapped as SQLAlchemy wraps its own statements' errors
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
                time.sleep(WRITE_LOCK_POLL_SECONDS)
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


@dataclass(frozen=True)
class Database:
    """The engine and its session factories: readers, writers (BEGIN IMMEDIATE on SQLite),
    and writers of soft state only (leases; their commits do not wait for the disk)."""

    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]
    soft_writer: sessionmaker[Session]

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, **kwargs: Any) -> Database:
    engine = make_engine(url, **kwargs)
    write_engine = engine.execution_options(sqlite_write=True)
    soft_engine = write_engine.execution_options(sqlite_soft_state=True)
    return Database(
        engine=engine,
        reader=sessionmaker(engine, expire_on_commit=False),
        writer=sessionmaker(write_engine, expire_on_commit=False),
        soft_writer=sessionmaker(soft_engine, expire_on_commit=False),
    )


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name
