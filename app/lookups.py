"""The look-ups of every API request (its token's user, the caller's project role), run on
the DBAPI connection itself.

They run before the body is read, on SQLite on the event loop itself (``app.routing``),
so their cost is paid by every request waiting behind them. Through SQLAlchemy's
execution machinery (a pooled ``Connection``, its transaction, events, a ``Result``) each
cost 120-200 µs, ten times SQLite's own work; compiled once and run on the DBAPI cursor,
15-20 µs (bench/README.md, `load.py`). The statements stay SQLAlchemy constructs: their SQL,
parameter conversions and result types are the dialect's own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Select, Update

Processor = Callable[[Any], Any] | None
Statement = Select[Any] | Update


@dataclass(frozen=True)
class Compiled:
    """A statement's SQL for one dialect, with its parameter and result conversions."""

    sql: str
    positions: Sequence[str] | None  # parameter order of a positional paramstyle
    binds: Mapping[str, Processor]
    keys: Sequence[str]  # result column keys, as ``Row._asdict()`` names them
    results: Sequence[Processor]

    @classmethod
    def of(cls, statement: Statement, dialect: Dialect) -> Compiled:
        compiled = statement.compile(dialect=dialect)
        binds = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        columns = list(statement.selected_columns) if isinstance(statement, Select) else []
        return cls(
            sql=compiled.string,
            positions=compiled.positiontup,
            binds=binds,
            keys=[str(column.key) for column in columns],
            results=[
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ],
        )

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        converted = {
            name: (process(value) if (process := self.binds.get(name)) else value)
            for name, value in values.items()
        }
        if self.positions is None:
            return converted
        return [converted[name] for name in self.positions]

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        return {
            key: (process(value) if process else value)
            for key, value, process in zip(self.keys, raw, self.results, strict=True)
        }


class Lookup:
    """A checked-out DBAPI connection: on SQLite one deferred transaction (a write in it
    upgrades its read, which SQLite refuses at once while another connection writes,
    instead of waiting), on PostgreSQL statements in autocommit (no BEGIN round trip)."""

    def __init__(self, lookups: Lookups, dbapi_connection: Any) -> None:  # noqa: ANN401 - a DBAPI connection
        self._lookups = lookups
        self._connection = dbapi_connection

    def first(self, statement: Select[Any], values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row, as ``{column key: value}``, or None."""
        compiled = self._lookups.compiled(statement)
        raw = self._run(compiled, values).fetchone()
        return None if raw is None else compiled.row(raw)

    def scalar(self, statement: Select[Any], values: Mapping[str, Any], /) -> Any:  # noqa: ANN401 - the column's type
        """The first row's first column, or None (``Connection.scalar``'s call shape)."""
        row = self.first(statement, values)
        return None if row is None else next(iter(row.values()))

    def try_write(self, statement: Statement, values: Mapping[str, Any]) -> bool:
        """Run a write; False, with nothing written, if the database refuses it now."""
        try:
            self._run(self._lookups.compiled(statement), values)
        except DBAPIError:
            return False
        return True

    def _run(self, compiled: Compiled, values: Mapping[str, Any]) -> Any:  # noqa: ANN401 - a DBAPI cursor
        parameters = compiled.parameters(values)
        cursor = self._connection.cursor()
        try:
            cursor.execute(compiled.sql, parameters)
        except self._lookups.dbapi_error as exc:
            raise DBAPIError.instance(
                compiled.sql, dict(values), exc, self._lookups.dbapi_error
            ) from exc
        return cursor


class Lookups:
    """Look-ups on ``engine``'s connections, each statement compiled once.

    On SQLite one connection is kept for them, out of the pool: the event loop runs them
    one at a time, and a pool checkout and return cost more than the statement (a tenth of
    a request's time on the loop). A look-up that finds it in use, on another thread, takes
    one from the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._compiled: dict[int, tuple[Statement, Compiled]] = {}
        self.sqlite = engine.dialect.name == "sqlite"
        self.dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._kept: PoolProxiedConnection | None = None
        self._kept_free = threading.Lock()

    def compiled(self, statement: Statement) -> Compiled:
        found = self._compiled.get(id(statement))
        if found is None or found[0] is not statement:  # the statement kept: ids stay unique
            found = (statement, Compiled.of(statement, self._engine.dialect))
            self._compiled[id(statement)] = found
        return found[1]

    @contextmanager
    def open(self) -> Iterator[Lookup]:
        """A connection for a few look-ups; SQLite's transaction commits at the end (rolls
        back on an error), PostgreSQL's statements were committed each."""
        in_transaction = _deferred_transaction if self.sqlite else _autocommit
        with self._connection() as connection, in_transaction(connection):
            yield Lookup(self, connection)

    def close(self) -> None:
        """Close the kept connection (``Database.dispose``)."""
        with self._kept_free:
            if self._kept is not None:
                self._kept.close()
                self._kept = None

    def _checkout(self) -> PoolProxiedConnection:
        """A connection from the pool; failing to connect raises SQLAlchemy's error, as
        ``Engine.connect`` does (``raw_connection`` passes the driver's own), which the
        API answers with a 503."""
        try:
            return self._engine.raw_connection()
        except self.dbapi_error as exc:
            raise DBAPIError.instance(None, None, exc, self.dbapi_error) from exc

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self.sqlite and self._kept_free.acquire(blocking=False):
            try:
                if self._kept is None:
                    self._kept = self._checkout()
                    self._kept.detach()  # out of the pool: closed only by close()
                yield self._kept.dbapi_connection  # pysqlite's: the sqlite3 connection
            finally:
                self._kept_free.release()
            return
        pooled = self._checkout()
        try:
            yield pooled.driver_connection
        finally:
            pooled.close()


@contextmanager
def _deferred_transaction(connection: Any) -> Iterator[None]:  # noqa: ANN401 - a DBAPI connection
    """SQLite: one deferred transaction, committed at the end, rolled back on an error."""
    connection.execute("BEGIN")
    try:
        yield
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


@contextmanager
def _autocommit(connection: Any) -> Iterator[None]:  # noqa: ANN401 - a DBAPI connection
    """PostgreSQL: each statement commits on its own (no BEGIN round trip)."""
    connection.autocommit = True
    try:
        yield
    finally:
        connection.autocommit = False
