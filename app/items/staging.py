"""The rows of one import, held in a temporary table of its connection until they are published.

A temporary table is private to the connection that made it and vanishes with it: a killed
process leaves nothing behind, and nobody else (queue, training, export) can see the rows.
Publishing copies them into ``items`` and ``annotations`` in one INSERT ... SELECT each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    any_,
    bindparam,
    func,
    literal,
    null,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute

from app.models import Annotation, Document, Item
from app.models.base import utcnow

# Its own MetaData: the table is made per connection at run time, never by a migration.
STAGING = Table(
    "import_staging",
    MetaData(),
    Column("row", Integer, primary_key=True, autoincrement=False),
    Column("line", Integer),  # where the row starts in the file, for messages (None: JSON)
    Column("text_hash", LargeBinary, nullable=False),
    Column("external_id", Text),
    Column("text", Text, nullable=False),
    Column("random_key", Integer, nullable=False),
    Column("labels", JSON(none_as_null=True)),
    # Task shapes (``app.items.shaped``); the one-text path leaves them NULL.
    Column("fields", JSON(none_as_null=True)),
    Column("correction", Text),
    Column("doc_hash", LargeBinary),  # a sentence's document, by the hash of its text
    Column("doc_external_id", Text),
    Column("doc_text", Text),  # on the document's first sentence only
    Column("n_sentences", Integer),
    Column("position", Integer),
    Column("start_offset", Integer),
    Column("end_offset", Integer),
    prefixes=["TEMPORARY"],
)
COLUMNS = ("row", "line", "text_hash", "external_id", "text", "random_key", "labels")
SHAPED_COLUMNS = (*COLUMNS, "fields", "correction")
SENTENCE_COLUMNS = (
    *COLUMNS,
    "doc_hash",
    "doc_external_id",
    "doc_text",
    "n_sentences",
    "position",
    "start_offset",
    "end_offset",
)
# First key of the PostgreSQL advisory lock that serialises publishing into one project.
_PUBLISH_LOCK = 0x1AB1
_COUNTED = {"preserve_rowcount": True}
IMPORT_CACHE_KIB = 64 * 1024  # SQLite page cache of an importing connection, per database
DEFAULT_CACHE_KIB = 2000  # SQLite's default


class Labelled(NamedTuple):
    """A staged row's place in the file and its labels."""

    row: int
    line: int | None
    labels: tuple[str, ...]


class Repeated(NamedTuple):
    """A staged row's place in the file and its external id."""

    row: int
    line: int | None
    external_id: str


def create(conn: Connection) -> None:
    """Make an empty staging table on ``conn`` (dropping one a previous import left).

    On SQLite the connection gets a larger page cache while it imports: the final insert
    updates the items indexes in random order, and misses are what make it slow.
    """
    drop(conn)
    STAGING.create(conn)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
        conn.exec_driver_sql(f"PRAGMA temp.cache_size=-{IMPORT_CACHE_KIB}")


def drop(conn: Connection) -> None:
    """Drop the connection's staging table, if it has one (and give back the cache)."""
    schema = "pg_temp" if conn.dialect.name == "postgresql" else "temp"
    conn.execute(text(f"DROP TABLE IF EXISTS {schema}.import_staging"))
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size=-{DEFAULT_CACHE_KIB}")
        conn.exec_driver_sql(f"PRAGMA temp.cache_size=-{DEFAULT_CACHE_KIB}")


def among(
    conn: Connection,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: list[str] | list[bytes],
) -> ColumnElement[bool]:
    """``column IN values`` as one bound parameter (a JSON array on SQLite, an array on
    PostgreSQL): thousands of values without compiling thousands of placeholders.

    Hashes (bytes) go to SQLite as one placeholder each: JSON has no binary values, and
    ``unhex`` only came with SQLite 3.41.
    """
    binary = bool(values) and isinstance(values[0], bytes)
    if conn.dialect.name == "postgresql":
        element = LargeBinary() if binary else Text()
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(element)))
    if binary:
        return column.in_(bindparam(None, values, expanding=True, type_=LargeBinary()))
    listed = func.json_each(bindparam(None, json.dumps(values), type_=Text)).table_valued("value")
    return column.in_(select(listed.c.value))


def index_repeated_texts(conn: Connection) -> bool:
    """Whether two staged rows share a text; if they do, index the rows by text for
    ``label_conflicts`` and ``drop_repeated_texts``, which only such a file needs.

    Rows are staged without indexes (appending is what stays fast at a million rows); the
    repeats are found at the end by sorting, which is one pass instead of a million probes.
    """
    if not _has_repeats(conn, "text_hash"):
        return False
    conn.execute(text("CREATE INDEX ix_import_staging_hash ON import_staging (text_hash, row)"))
    return True


def label_conflicts(conn: Connection) -> Iterator[tuple[Labelled, Labelled]]:
    """Each labelled staged row whose labels, as staged, differ from those of the first
    labelled row of the same text, in row order (after ``index_repeated_texts``). The same
    labels in another order differ here: the caller compares them as sets."""
    found = conn.execute(
        text(
            "SELECT first_row, first_line, CAST(first_labels AS TEXT), row, line, "
            "CAST(labels AS TEXT) FROM (SELECT row, line, labels, "
            "first_value(row) OVER w AS first_row, first_value(line) OVER w AS first_line, "
            "first_value(labels) OVER w AS first_labels FROM import_staging "
            "WHERE labels IS NOT NULL WINDOW w AS (PARTITION BY text_hash ORDER BY row)) "
            "AS ranked WHERE CAST(labels AS TEXT) <> CAST(first_labels AS TEXT) ORDER BY row"
        )
    )
    for first_row, first_line, first, row, line, labels in found:
        yield (
            Labelled(first_row, first_line, tuple(json.loads(first))),
            Labelled(row, line, tuple(json.loads(labels))),
        )


def drop_repeated_texts(conn: Connection) -> int:
    """Keep the first row of each text (after ``index_repeated_texts`` found repeats);
    returns how many later repeats were dropped."""
    repeats = text(
        "DELETE FROM import_staging WHERE row IN (SELECT row FROM (SELECT row, row_number() "
        "OVER (PARTITION BY text_hash ORDER BY row) AS n FROM import_staging) AS ranked "
        "WHERE n > 1)"
    )
    return conn.execute(repeats, execution_options=_COUNTED).rowcount


def first_repeated_id(conn: Connection) -> Repeated | None:
    """The first staged row whose external id an earlier staged row has, with that id."""
    if not _has_repeats(conn, "external_id"):
        return None
    conn.execute(
        text("CREATE INDEX ix_import_staging_external_id ON import_staging (external_id, row)")
    )
    found = conn.execute(
        text(
            "SELECT row, line, external_id FROM (SELECT row, line, external_id, row_number() "
            "OVER (PARTITION BY external_id ORDER BY row) AS n FROM import_staging "
            "WHERE external_id IS NOT NULL) AS ranked WHERE n > 1 ORDER BY row LIMIT 1"
        )
    ).first()
    return None if found is None else Repeated(found[0], found[1], found[2])


def _has_repeats(conn: Connection, column: str) -> bool:
    """Whether two staged rows share ``column`` (NULLs aside): one grouping pass, cheaper than
    indexing the column and ranking the rows, which only a file with repeats needs."""
    found = conn.execute(
        text(
            f"SELECT 1 FROM import_staging WHERE {column} IS NOT NULL "
            f"GROUP BY {column} HAVING count(*) > 1 LIMIT 1"
        )
    )
    return found.first() is not None


def add(conn: Connection, rows: list[tuple[Any, ...]], columns: tuple[str, ...] = COLUMNS) -> None:
    """Stage ``rows``, tuples in ``columns`` order with labels (and fields) as JSON text.

    COPY on PostgreSQL, one executemany of the driver on SQLite: no per-row SQLAlchemy work.
    """
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name != "postgresql":
        marks = ", ".join("?" * len(columns))
        conn.exec_driver_sql(f"INSERT INTO temp.import_staging ({names}) VALUES ({marks})", rows)
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY import_staging ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def lock_project(conn: Connection, project_id: int) -> None:
    """Serialise publishing into one project (SQLite's write lock already does, on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_PUBLISH_LOCK, project_id)))


def publish(conn: Connection, project_id: int, *, shaped: bool = False) -> tuple[int, int]:
    """Copy the staged rows into the project; returns (new items, seed annotations).

    Call in a write transaction after ``lock_project``. Texts that reached the project since
    they were staged are skipped (a plain INSERT ... SELECT with NOT EXISTS: cheaper than
    ON CONFLICT per row); an external id that did is refused by the unique constraint.
    ``shaped``: the rows carry fields, corrections or documents (``app.items.shaped``), which
    are copied too (documents first, so that sentences can point at them).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE pg_temp.import_staging"))  # autovacuum never sees temp tables
    last_id = conn.scalar(select(func.max(Item.id))) or 0
    now = utcnow()
    if shaped:
        _publish_documents(conn, project_id, now)
    known = select(Item.id).where(
        Item.project_id == project_id, Item.text_hash == STAGING.c.text_hash
    )
    columns = ["project_id", "external_id", "text", "text_hash", "random_key", "labeled"]
    values: list[Any] = [
        literal(project_id),
        STAGING.c.external_id,
        STAGING.c.text,
        STAGING.c.text_hash,
        STAGING.c.random_key,
        STAGING.c.labels.is_not(None),  # its seed annotation follows below
    ]
    if shaped:
        columns += ["fields", "document_id", "position", "start_offset", "end_offset"]
        values += _shaped_item_values(project_id)
    rows = (
        select(*values, literal(now, Item.created_at.type))
        .where(~known.exists())  # publishing is serialised per project: no race past this
        .order_by(STAGING.c.row)
    )
    items = Item.__table__.insert().from_select([*columns, "created_at"], rows)
    imported = conn.execute(items, execution_options=_COUNTED).rowcount
    if imported and conn.dialect.name == "postgresql":
        # The statistics of ``items`` still describe the table before this insert: planned
        # with them, the join below walks every new item probing the staging table (15 s at
        # 1M rows) instead of probing items for the labelled staged rows. ANALYZE samples
        # the table, this transaction's rows included.
        conn.execute(text("ANALYZE items"))
    labeled = _publish_seeds(conn, project_id, last_id, now, shaped) if imported else 0
    return imported, labeled


def _shaped_item_values(project_id: int) -> list[Any]:
    document = (
        select(Document.id)
        .where(Document.project_id == project_id, Document.text_hash == STAGING.c.doc_hash)
        .scalar_subquery()
    )
    return [
        STAGING.c.fields,
        document,
        STAGING.c.position,
        STAGING.c.start_offset,
        STAGING.c.end_offset,
    ]


def _publish_documents(conn: Connection, project_id: int, now: Any) -> None:
    """Insert the staged documents the project does not have yet (by the hash of their text)."""
    known = select(Document.id).where(
        Document.project_id == project_id, Document.text_hash == STAGING.c.doc_hash
    )
    rows = (
        select(
            literal(project_id),
            STAGING.c.doc_external_id,
            STAGING.c.doc_text,
            STAGING.c.doc_hash,
            STAGING.c.n_sentences,
            literal(now, Document.created_at.type),
        )
        .where(STAGING.c.doc_text.is_not(None), ~known.exists())
        .order_by(STAGING.c.row)
    )
    names = ["project_id", "external_id", "text", "text_hash", "n_sentences", "created_at"]
    conn.execute(Document.__table__.insert().from_select(names, rows))


def _publish_seeds(conn: Connection, project_id: int, last_id: int, now: Any, shaped: bool) -> int:
    """The seed annotations of the new items' imported labels (and corrections)."""
    columns = ["project_id", "item_id", "user_id", "labels", "source", "created_at", "updated_at"]
    values: list[Any] = [
        literal(project_id),
        Item.id,
        null(),
        STAGING.c.labels,
        literal("import"),
        literal(now, Annotation.created_at.type),
        literal(now, Annotation.updated_at.type),
    ]
    if shaped:
        columns.append("correction")
        values.append(STAGING.c.correction)
    seeds = (
        select(*values)
        .join(Item, (Item.project_id == project_id) & (Item.text_hash == STAGING.c.text_hash))
        .where(STAGING.c.labels.is_not(None), Item.id > last_id)
        .order_by(STAGING.c.row)
    )
    annotations = Annotation.__table__.insert().from_select(columns, seeds)
    return conn.execute(annotations, execution_options=_COUNTED).rowcount
