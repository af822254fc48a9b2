"""Leaner items: text hashes as 16 bytes of binary, sentence index for sentence items only.

``items.text_hash`` and ``documents.text_hash`` held a SHA-256 as 64 hex digits: 65 bytes in
the row and about as much again in the unique index on (project_id, text_hash), a third of a
short-text project's database. They now hold its first 16 bytes (``app.items.identity``):
the upgrade keeps the first 32 hex digits as binary, which is what new imports compute, so
duplicates of existing items are still recognised. The downgrade computes the full hashes
again from the texts (fields, documents), as the code before this revision did.
``ix_items_document_position`` covers sentence items only (``document_id IS NOT NULL``).

SQLite cannot change a column's type in place: ``items`` and ``documents`` are rebuilt
(SQLite's own procedure: new table, copy, drop, rename, then the table's indexes and
triggers again), with foreign keys off (``migrations/env.py``) so that dropping the old
``items`` does not cascade to annotations, leases and rankings.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-11 09:00:00.000000
"""

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.migrate import rebuild_sqlite_table

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("documents", "items")
_HEX = "text_hash VARCHAR(64) NOT NULL"
_BINARY = "text_hash BLOB NOT NULL"
_SENTENCE = sa.text("document_id IS NOT NULL")
_PAGE = 10_000


def upgrade() -> None:
    op.drop_index("ix_items_document_position", table_name="items")
    if op.get_bind().dialect.name == "postgresql":
        _retype_postgres(sa.LargeBinary(16), "decode(substr(text_hash, 1, 32), 'hex')")
    else:
        _unhex_function()
        for table in _TABLES:
            _rebuild_sqlite(table, (_HEX, _BINARY), "ll_unhex(substr(text_hash, 1, 32))")
    op.create_index(
        "ix_items_document_position",
        "items",
        ["document_id", "position"],
        sqlite_where=_SENTENCE,
        postgresql_where=_SENTENCE,
    )


def downgrade() -> None:
    op.drop_index("ix_items_document_position", table_name="items")
    if op.get_bind().dialect.name == "postgresql":
        _retype_postgres(sa.String(64), "encode(text_hash, 'hex')")
    else:
        for table in _TABLES:
            _rebuild_sqlite(table, (_BINARY, _HEX), "lower(hex(text_hash))")
    _full_hashes()
    op.create_index("ix_items_document_position", "items", ["document_id", "position"])


def _retype_postgres(type_: sa.types.TypeEngine[Any], using: str) -> None:
    for table in _TABLES:
        op.alter_column(table, "text_hash", type_=type_, postgresql_using=using)


def _unhex_function() -> None:
    """``ll_unhex(text)`` on this connection: SQLite has ``unhex`` only from 3.41."""
    dbapi = op.get_bind().connection.dbapi_connection
    dbapi.create_function("ll_unhex", 1, bytes.fromhex, deterministic=True)  # type: ignore[union-attr]


def _rebuild_sqlite(table: str, column: tuple[str, str], value: str) -> None:
    """Rebuild ``table`` with its column definition ``column[0]`` replaced by ``column[1]``,
    ``text_hash`` copied as ``value``; its indexes and triggers are made again as they were."""
    rebuild_sqlite_table(op.get_bind(), table, dict([column]), {"text_hash": value})


def _full_hashes() -> None:
    """The full SHA-256 of every document and item again, in hex, computed as before 0014:
    a document's text; an item's fields (canonical JSON), its place in its document, or its
    text."""
    conn = op.get_bind()
    documents: dict[int, str] = {}
    for rows in _pages(conn, "SELECT id, text FROM documents"):
        documents |= {row[0]: _sha256(row[1]) for row in rows}
        _set(conn, "documents", [(documents[row[0]], row[0]) for row in rows])
    query = "SELECT id, text, fields, document_id, position FROM items"
    for rows in _pages(conn, query):
        _set(conn, "items", [(_item_hash(row, documents.__getitem__), row[0]) for row in rows])


def _item_hash(row: Any, document: Callable[[int], str]) -> str:
    _, text, fields, document_id, position = row
    if isinstance(fields, str):
        fields = json.loads(fields)
    if fields:
        canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return _sha256(canonical)
    if document_id is not None:
        return _sha256(f"sentence:{document(document_id)}:{position}")
    return _sha256(text)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _pages(conn: sa.Connection, query: str) -> Iterator[list[Any]]:
    """The rows of ``query`` (id first) a page at a time, in id order."""
    after = 0
    while rows := conn.execute(
        sa.text(f"{query} WHERE id > :after ORDER BY id LIMIT {_PAGE}"), {"after": after}
    ).all():
        yield rows
        after = rows[-1][0]


def _set(conn: sa.Connection, table: str, values: list[tuple[str, int]]) -> None:
    if values:
        conn.execute(
            sa.text(f"UPDATE {table} SET text_hash = :h WHERE id = :id"),
            [{"h": h, "id": i} for h, i in values],
        )
