"""Engine and session factories: SQLite gets WAL, busy timeout, foreign keys, early write locks."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.lookups import Lookups

if TYPE_CHECKING:
    from app.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_LOCK_POLL_SECONDS = 0.001
CHECKPOINT_SECONDS = 1.0


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def make_engine(
    url: str, *, synchronous: str = "normal", autocheckpoint: bool = True, **kwargs: Any
) -> Engine:
    """Create an engine; SQLite connections get WAL, ``busy_timeout`` and foreign keys.

    ``synchronous`` and ``autocheckpoint`` apply to SQLite only: see ``_configure_sqlite``.
    """
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 40)
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "begin", _soft_state_commits)
        return engine
    engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
    _configure_sqlite(engine, synchronous.upper(), autocheckpoint)
    return engine


SOFT_STATE = "soft_state"  # execution option of Database.soft_writer's engine


def _soft_state_commits(conn: Any) -> None:
    """PostgreSQL: a transaction of soft state (leases) does not wait for the WAL flush.

    ``synchronous_commit=off`` for this transaction only: the commit returns before the WAL
    reaches the disk; should the database server crash within the next few hundred
    milliseconds, the leases are forgotten and the items served again. Commits of labels
    still wait for the disk.
    """
    if conn.get_execution_options().get(SOFT_STATE):
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


_SYNCHRONOUS = "labelloop_synchronous"  # the connection's setting, kept in its pool record


def _configure_sqlite(engine: Engine, synchronous: str, autocheckpoint: bool) -> None:
    """Pragmas per connection, and our own BEGIN so writers can take the lock up front.

    WAL with ``synchronous=NORMAL`` (the default) writes each commit to the WAL before it
    returns but does not wait for the disk: a killed process loses nothing that was
    acknowledged, a power loss may lose the last commits; the disk is synced at
    checkpoints. ``FULL`` fsyncs every commit: it survives a power loss too, at the price
    of the disk's fsync latency (tens to hundreds of milliseconds at times on a shared
    disk) on every label and on every request queued behind it. Sessions of
    ``Database.soft_writer`` write only soft state (leases) and commit with NORMAL either
    way (set before BEGIN, as SQLite requires). Without ``autocheckpoint`` no commit on
    this engine checkpoints the WAL: a :class:`Checkpointer` thread does, so no request
    pays for a checkpoint's copying and syncing. Writers start with ``BEGIN IMMEDIATE`` so
    a read-then-write transaction waits on ``busy_timeout`` instead of failing with
    "database is locked" when it upgrades.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite must not issue BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        if not autocheckpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        wanted = "NORMAL" if options.get(SOFT_STATE) else synchronous
        if conn.info.get(_SYNCHRONOUS, synchronous) != wanted:  # outside a transaction only
            conn.exec_driver_sql(f"PRAGMA synchronous={wanted}")
            conn.info[_SYNCHRONOUS] = wanted
        if options.get("sqlite_write"):
            _begin_immediate(conn.connection.dbapi_connection)
        else:
            conn.exec_driver_sql("BEGIN")


class WriteLockBusy(OperationalError):
    """``BEGIN IMMEDIATE`` found SQLite's write lock held, inside :func:`no_wait`."""


_NO_WAIT: ContextVar[bool] = ContextVar("labelloop_write_no_wait", default=False)


@contextmanager
def no_wait() -> Iterator[None]:
    """Write transactions begun inside do not wait for SQLite's write lock: their
    ``BEGIN IMMEDIATE`` tries once and raises :class:`WriteLockBusy` if another connection
    holds it, so a caller that must not block (the event loop) can wait elsewhere."""
    token = _NO_WAIT.set(True)
    try:
        yield
    finally:
        _NO_WAIT.reset(token)


def _begin_immediate(dbapi_conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, trying again every millisecond while another process writes.

    SQLite's own busy handler sleeps between tries, backing off to 100 ms: a web request
    waiting behind the worker's 5 ms transaction then often slept tens of milliseconds
    more. Gives up, like ``busy_timeout``, after SQLITE_BUSY_TIMEOUT_MS ("database is
    locked", which the API answers with a 503); inside :func:`no_wait`, after one try.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) and _NO_WAIT.get():
                    raise WriteLockBusy("BEGIN IMMEDIATE", None, exc) from exc
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    # wrapped as SQLAlchemy wraps its own statements' errors
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
                time.sleep(WRITE_LOCK_POLL_SECONDS)
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


class Checkpointer:
    """Checkpoints an SQLite database's WAL every ``interval`` seconds on a thread of its own.

    PASSIVE checkpoints wait for no reader or writer: commits go on meanwhile, and frames a
    reader still needs are copied by a later round.
    """

    def __init__(self, engine: Engine, interval: float = CHECKPOINT_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.checkpoint()  # what the last round left

    def checkpoint(self) -> None:
        with self._engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.checkpoint()
            except Exception:  # a locked or busy round is retried by the next one
                continue


@dataclass(frozen=True)
class Database:
    """The engine and its session factories: readers, writers (BEGIN IMMEDIATE on SQLite),
    and writers of soft state only (leases; their commits do not wait for the disk)."""

    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]
    soft_writer: sessionmaker[Session]
    checkpointer: Checkpointer | None = field(default=None, compare=False)

    @cached_property
    def lookups(self) -> Lookups:
        """For the few one-statement reads of every API request (token, project role): run
        on the DBAPI connection, without SQLAlchemy's per-statement machinery."""
        return Lookups(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        if "lookups" in self.__dict__:  # made (a cached property)
            self.lookups.close()
        self.engine.dispose()


def open_database(
    url: str, *, synchronous: str = "normal", background_checkpoints: bool = False, **kwargs: Any
) -> Database:
    """Engine and session factories; ``background_checkpoints`` (web processes, SQLite only)
    moves WAL checkpoints out of the commits into a :class:`Checkpointer` thread."""
    sqlite_db = make_url(normalise_url(url)).get_backend_name() == "sqlite"
    background = background_checkpoints and sqlite_db
    engine = make_engine(url, synchronous=synchronous, autocheckpoint=not background, **kwargs)
    write_engine = engine.execution_options(sqlite_write=True)
    soft_engine = write_engine.execution_options(**{SOFT_STATE: True})
    return Database(
        engine=engine,
        reader=sessionmaker(engine, expire_on_commit=False),
        writer=sessionmaker(write_engine, expire_on_commit=False),
        soft_writer=sessionmaker(soft_engine, expire_on_commit=False),
        checkpointer=Checkpointer(engine).start() if background else None,
    )


def open_configured(settings: Settings, *, background_checkpoints: bool = False) -> Database:
    """:func:`open_database` with the settings' URL and SQLite durability."""
    return open_database(
        settings.sqlalchemy_url,
        synchronous=settings.sqlite_synchronous,
        background_checkpoints=background_checkpoints,
    )


def connection(session: Session) -> Connection:
    """The session's connection, after flushing what the session has pending (Core
    statements run on it see the session's own writes, as ``session.execute`` would)."""
    session.flush()
    return session.connection()


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name
