"""Project counters kept by triggers: items, labelled items and label tallies; keyset indexes.

``projects.n_items`` / ``projects.n_labeled`` and the ``label_tallies`` rows are kept up to
date by triggers in the transaction of every insert, update and delete of ``items`` and
``annotations`` (whichever code writes them: imports, import jobs, annotations, undo), so
the dashboard and the project JSON read a few rows instead of counting a million.

PostgreSQL: statement-level triggers over transition tables (one UPDATE per statement,
not per row, so a 1M-row bulk insert stays fast). Each first locks the project rows
(``FOR NO KEY UPDATE``, the lock every label write already takes when it bumps
``label_events``) and only then looks for other annotations of the same items: the
look-up runs in a fresh snapshot after any concurrent writer of the project committed,
so two annotators labelling one item at once count it once.
SQLite: row-level triggers (writers are serialised by ``BEGIN IMMEDIATE``).

A later SQLite batch migration that *recreates* ``items`` or ``annotations`` drops their
triggers: it must create them again (``_sqlite_triggers`` below).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = {
    # name: (table, event)
    "trg_items_count_insert": ("items", "INSERT"),
    "trg_items_count_delete": ("items", "DELETE"),
    "trg_annotations_count_insert": ("annotations", "INSERT"),
    "trg_annotations_count_delete": ("annotations", "DELETE"),
    "trg_annotations_count_update": ("annotations", "UPDATE"),
}

_SQLITE_TALLY_ADD = """
    INSERT INTO label_tallies (project_id, label, n)
    SELECT NEW.project_id, value, 1 FROM json_each(NEW.labels) WHERE true
    ON CONFLICT (project_id, label) DO UPDATE SET n = n + 1;"""
_SQLITE_TALLY_REMOVE = """
    UPDATE label_tallies SET n = n - 1
    WHERE project_id = OLD.project_id AND label IN (SELECT value FROM json_each(OLD.labels));"""

SQLITE = {
    "trg_items_count_insert": """
    UPDATE projects SET n_items = n_items + 1 WHERE id = NEW.project_id;""",
    "trg_items_count_delete": """
    UPDATE projects SET n_items = n_items - 1 WHERE id = OLD.project_id;""",
    "trg_annotations_count_insert": """
    UPDATE projects SET n_labeled = n_labeled + 1
    WHERE id = NEW.project_id
      AND NOT EXISTS (SELECT 1 FROM annotations WHERE item_id = NEW.item_id AND id <> NEW.id);"""
    + _SQLITE_TALLY_ADD,
    "trg_annotations_count_delete": """
    UPDATE projects SET n_labeled = n_labeled - 1
    WHERE id = OLD.project_id
      AND NOT EXISTS (SELECT 1 FROM annotations WHERE item_id = OLD.item_id);"""
    + _SQLITE_TALLY_REMOVE,
    "trg_annotations_count_update": _SQLITE_TALLY_REMOVE + _SQLITE_TALLY_ADD,
}

_PG_LOCK = """
    PERFORM 1 FROM projects WHERE id IN (SELECT project_id FROM {rows})
    ORDER BY id FOR NO KEY UPDATE;"""
_PG_TALLY_ADD = """
    INSERT INTO label_tallies (project_id, label, n)
    SELECT r.project_id, l.label, count(*)
    FROM new_rows r, json_array_elements_text(r.labels) AS l(label)
    GROUP BY r.project_id, l.label
    ON CONFLICT (project_id, label) DO UPDATE SET n = label_tallies.n + EXCLUDED.n;"""
_PG_TALLY_REMOVE = """
    UPDATE label_tallies t SET n = t.n - d.n
    FROM (SELECT r.project_id, l.label, count(*) AS n
          FROM old_rows r, json_array_elements_text(r.labels) AS l(label)
          GROUP BY r.project_id, l.label) d
    WHERE t.project_id = d.project_id AND t.label = d.label;"""

POSTGRES = {
    "trg_items_count_insert": """
    UPDATE projects p SET n_items = p.n_items + d.n
    FROM (SELECT project_id, count(*) AS n FROM new_rows GROUP BY project_id) d
    WHERE p.id = d.project_id;""",
    "trg_items_count_delete": """
    UPDATE projects p SET n_items = p.n_items - d.n
    FROM (SELECT project_id, count(*) AS n FROM old_rows GROUP BY project_id) d
    WHERE p.id = d.project_id;""",
    "trg_annotations_count_insert": _PG_LOCK.format(rows="new_rows")
    + """
    UPDATE projects p SET n_labeled = p.n_labeled + d.n
    FROM (SELECT r.project_id, count(DISTINCT r.item_id) AS n FROM new_rows r
          WHERE NOT EXISTS (SELECT 1 FROM annotations a WHERE a.item_id = r.item_id
                            AND a.id NOT IN (SELECT id FROM new_rows))
          GROUP BY r.project_id) d
    WHERE p.id = d.project_id;"""
    + _PG_TALLY_ADD,
    "trg_annotations_count_delete": _PG_LOCK.format(rows="old_rows")
    + """
    UPDATE projects p SET n_labeled = p.n_labeled - d.n
    FROM (SELECT r.project_id, count(DISTINCT r.item_id) AS n FROM old_rows r
          WHERE NOT EXISTS (SELECT 1 FROM annotations a WHERE a.item_id = r.item_id)
          GROUP BY r.project_id) d
    WHERE p.id = d.project_id;"""
    + _PG_TALLY_REMOVE,
    "trg_annotations_count_update": _PG_LOCK.format(rows="new_rows")
    + _PG_TALLY_REMOVE
    + _PG_TALLY_ADD,
}


def _sqlite_triggers() -> None:
    for name, (table, event) in TRIGGERS.items():
        when = "UPDATE OF labels" if event == "UPDATE" else event
        op.execute(f"CREATE TRIGGER {name} AFTER {when} ON {table} BEGIN{SQLITE[name]}\nEND")


def _postgres_triggers() -> None:
    for name, (table, event) in TRIGGERS.items():
        tables = {
            "INSERT": "NEW TABLE AS new_rows",
            "DELETE": "OLD TABLE AS old_rows",
            "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        }[event]
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN"
            f"{POSTGRES[name]}\n    RETURN NULL;\nEND\n$$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def _backfill() -> None:
    op.execute(
        "UPDATE projects SET "
        "n_items = (SELECT count(*) FROM items WHERE items.project_id = projects.id), "
        "n_labeled = (SELECT count(DISTINCT item_id) FROM annotations "
        "WHERE annotations.project_id = projects.id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        labels = "json_array_elements_text(a.labels) AS l(label)"
        value = "l.label"
    else:
        labels = "json_each(a.labels) AS l"
        value = "l.value"
    op.execute(
        "INSERT INTO label_tallies (project_id, label, n) "
        f"SELECT a.project_id, {value}, count(*) FROM annotations a, {labels} "
        f"GROUP BY a.project_id, {value}"
    )


def upgrade() -> None:
    # Plain ALTER TABLE, never batch mode here: batch mode would recreate ``projects`` on
    # SQLite, and dropping the old table cascades to every item and annotation.
    for column in ("n_items", "n_labeled"):
        op.add_column(
            "projects",
            sa.Column(column, sa.Integer(), server_default=sa.text("0"), nullable=False),
        )
    op.create_table(
        "label_tallies",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_label_tallies_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "label", name=op.f("pk_label_tallies")),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index("ix_items_project_id_id", ["project_id", "id"], unique=False)
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_annotations_project_item", ["project_id", "item_id"], unique=False
        )
    _backfill()
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, (table, _) in TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_index("ix_annotations_project_item")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_project_id_id")
    op.drop_table("label_tallies")
    # Not in batch mode either (see upgrade); SQLite 3.35+ drops columns in place.
    op.drop_column("projects", "n_labeled")
    op.drop_column("projects", "n_items")
