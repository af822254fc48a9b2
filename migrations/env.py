"""Alembic environment: one history for SQLite and PostgreSQL (batch mode for SQLite)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from app.config import Settings
from app.db import make_engine
from app.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("url") or Settings().sqlalchemy_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                _foreign_keys(conn, on=False)
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    _check_foreign_keys(conn)
            if sqlite:
                _foreign_keys(conn, on=True)
    finally:
        engine.dispose()


def _foreign_keys(conn: Connection, *, on: bool) -> None:
    """SQLite: foreign keys off while migrating, as SQLite's own procedure for rebuilding a
    table asks: dropping the old ``items`` would otherwise delete (ON DELETE CASCADE) every
    annotation, lease and ranking row of every item. Outside any transaction (where the
    pragma does nothing), on the DBAPI connection."""
    conn.connection.dbapi_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")  # type: ignore[union-attr]


def _check_foreign_keys(conn: Connection) -> None:
    """Before committing: what the migrations left must satisfy every foreign key."""
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
    if broken is not None:
        raise RuntimeError(f"migration left a row of {broken[0]} without its {broken[2]} row")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
