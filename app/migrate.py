"""Alembic, driven from code: upgrade to head, and tell whether a database is at head; and the
SQLite table rebuild that migrations changing a column use."""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_at_head(engine: Engine, url: str) -> bool:
    return current_revision(engine) == head_revision(url)


def rebuild_sqlite_table(
    conn: Connection, table: str, definitions: dict[str, str], values: dict[str, str]
) -> None:
    """Rebuild ``table`` on SQLite, which cannot change a column in place: SQLite's own
    procedure (new table, copy, drop, rename, then the table's indexes and triggers again).

    Each key of ``definitions`` (found once in the table's CREATE TABLE) is replaced by its
    value; each column of ``values`` is copied as that SQL expression of the old row. Needs
    foreign keys off (``migrations/env.py``): dropping the old table would cascade.
    """
    if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(f"rebuilding {table} needs foreign keys off (see migrations/env.py)")
    create = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    head = re.match(rf'CREATE TABLE "?{table}"? \(', create)
    if head is None or any(create.count(old) != 1 for old in definitions):
        raise RuntimeError(f"unexpected definition of {table}: {create}")
    create = f"CREATE TABLE _new_{table} (" + create[head.end() :]
    for old, new in definitions.items():
        create = create.replace(old, new)
    extras = (
        conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
            "AND sql IS NOT NULL",
            (table,),
        )
        .scalars()
        .all()
    )
    columns = [row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
    copied = ", ".join(values.get(c, c) for c in columns)
    conn.exec_driver_sql(create)
    conn.exec_driver_sql(
        f"INSERT INTO _new_{table} ({', '.join(columns)}) SELECT {copied} FROM {table}"
    )
    conn.exec_driver_sql(f"DROP TABLE {table}")
    # Legacy rename: the triggers of other tables that name ``table`` (annotations keep
    # ``items.labeled``) are left as they are, naming the rebuilt table once it is renamed.
    conn.exec_driver_sql("PRAGMA legacy_alter_table = ON")
    conn.exec_driver_sql(f"ALTER TABLE _new_{table} RENAME TO {table}")
    conn.exec_driver_sql("PRAGMA legacy_alter_table = OFF")
    for sql in extras:
        conn.exec_driver_sql(sql)
