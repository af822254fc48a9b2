"""Leaner item rows: creation times as integers on SQLite, 31-bit random keys, no external-id
index entries for items without an external id.

``items.created_at`` was 26 bytes of ISO text on SQLite; it is now whole milliseconds since
the epoch (``app.models.base.CompactUTCDateTime``: 6 bytes), converted row by row both ways.
PostgreSQL keeps ``timestamptz``. ``items.random_key`` had 48 bits (6 bytes on SQLite, a
``bigint`` on PostgreSQL, in the row and in the queue's random-order index); the upgrade keeps
its top 31 bits (``app.items.identity``), which is what new imports compute, so each pool's
order is unchanged; the downgrade shifts them back (the same order again). The unique
constraint on (project_id, external_id) becomes a unique index of the rows that have one.

SQLite rebuilds ``items`` (``app.migrate.rebuild_sqlite_table``), with foreign keys off
(``migrations/env.py``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-12 09:00:00.000000
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op

from app.migrate import rebuild_sqlite_table

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHIFT = 17  # 48 - 31 bits
_EXTERNAL_ID = "uq_items_project_id_external_id"
_HAS_EXTERNAL_ID = sa.text("external_id IS NOT NULL")
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
# Texts of the CREATE TABLE of ``items`` on SQLite before and after.
_OLD = {
    "created_at": "created_at DATETIME NOT NULL",
    "random_key": "random_key BIGINT NOT NULL",
    "unique": f"CONSTRAINT {_EXTERNAL_ID} UNIQUE (project_id, external_id), ",
}
_NEW = {"created_at": "created_at BIGINT NOT NULL", "random_key": "random_key INTEGER NOT NULL"}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.alter_column(
            "items",
            "random_key",
            type_=sa.Integer(),
            postgresql_using=f"(random_key >> {_SHIFT})::integer",
        )
        op.drop_constraint(_EXTERNAL_ID, "items", type_="unique")
    else:
        _functions(conn)
        definitions = {_OLD[k]: _NEW.get(k, "") for k in _OLD}
        values = {"created_at": "ll_epoch_ms(created_at)", "random_key": f"random_key >> {_SHIFT}"}
        rebuild_sqlite_table(conn, "items", definitions, values)
    op.create_index(
        _EXTERNAL_ID,
        "items",
        ["project_id", "external_id"],
        unique=True,
        sqlite_where=_HAS_EXTERNAL_ID,
        postgresql_where=_HAS_EXTERNAL_ID,
    )


def downgrade() -> None:
    conn = op.get_bind()
    op.drop_index(_EXTERNAL_ID, table_name="items")
    if conn.dialect.name == "postgresql":
        op.alter_column(
            "items",
            "random_key",
            type_=sa.BigInteger(),
            postgresql_using=f"random_key::bigint << {_SHIFT}",
        )
        op.create_unique_constraint(_EXTERNAL_ID, "items", ["project_id", "external_id"])
        return
    _functions(conn)
    text_hash = "CONSTRAINT uq_items_project_id_text_hash UNIQUE"
    definitions = {_NEW[k]: _OLD[k] for k in _NEW} | {text_hash: _OLD["unique"] + text_hash}
    values = {"created_at": "ll_iso(created_at)", "random_key": f"random_key << {_SHIFT}"}
    rebuild_sqlite_table(conn, "items", definitions, values)


def _functions(conn: sa.Connection) -> None:
    """The conversions of ``created_at`` on this SQLite connection, exact to the millisecond:
    SQLAlchemy's naive UTC text (``2026-12-12 09:00:00.123456``) and milliseconds since 1970."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    dbapi.create_function("ll_epoch_ms", 1, _epoch_ms, deterministic=True)
    dbapi.create_function("ll_iso", 1, _iso, deterministic=True)


def _epoch_ms(value: str) -> int:
    return (datetime.fromisoformat(value) - _EPOCH) // _MS


def _iso(value: int) -> str:
    return (_EPOCH + value * _MS).isoformat(sep=" ", timespec="microseconds")
