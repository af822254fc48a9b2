"""Items know whether they are labelled; the queue's indexes skip what is labelled.

``items.labeled`` is kept by triggers on ``annotations`` in the transaction of every insert
and delete (imports, labels, undo), like the counters of 0005. The partial index
``ix_items_unlabeled_random`` replaces ``ix_items_project_random``: the queue's seeded random
order (before a ranking exists, and beyond its end) then no longer steps over every labelled
item of the project to find a free one. ``ix_leases_project_user_expires`` replaces
``ix_leases_project_user``: a caller's live leases are found without stepping over the
settled leases of every item they labelled.

PostgreSQL: statement-level triggers; their names sort after 0005's, so they run after the
count triggers have locked the project row (concurrent writers of one project take turns).
SQLite: row-level triggers. As in 0005, a later SQLite batch migration that recreates
``annotations`` must create these triggers again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNLABELED = sa.column("labeled") == sa.false()

SQLITE = {
    "trg_annotations_labeled_insert": (
        "INSERT",
        "UPDATE items SET labeled = 1 WHERE id = NEW.item_id AND labeled = 0;",
    ),
    "trg_annotations_labeled_delete": (
        "DELETE",
        "UPDATE items SET labeled = 0 WHERE id = OLD.item_id AND labeled = 1 "
        "AND NOT EXISTS (SELECT 1 FROM annotations WHERE item_id = OLD.item_id);",
    ),
}
POSTGRES = {
    "trg_annotations_labeled_insert": (
        "INSERT",
        "NEW TABLE AS new_rows",
        "UPDATE items SET labeled = true "
        "WHERE id IN (SELECT item_id FROM new_rows) AND NOT labeled;",
    ),
    "trg_annotations_labeled_delete": (
        "DELETE",
        "OLD TABLE AS old_rows",
        "UPDATE items i SET labeled = false "
        "WHERE i.id IN (SELECT item_id FROM old_rows) AND i.labeled "
        "AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.item_id = i.id);",
    ),
}


def upgrade() -> None:
    # Plain ALTER TABLE, never batch mode: batch mode would recreate ``items`` on SQLite and
    # drop its triggers (see 0005).
    op.add_column(
        "items", sa.Column("labeled", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    items = sa.table("items", sa.column("id"), sa.column("labeled"))
    annotations = sa.table("annotations", sa.column("item_id"))
    labelled = sa.exists().where(annotations.c.item_id == items.c.id)
    op.execute(items.update().where(labelled).values(labeled=sa.true()))
    op.drop_index("ix_items_project_random", table_name="items")
    op.create_index(
        "ix_items_unlabeled_random",
        "items",
        ["project_id", "random_key"],
        sqlite_where=UNLABELED,
        postgresql_where=UNLABELED,
    )
    op.drop_index("ix_leases_project_user", table_name="leases")
    op.create_index(
        "ix_leases_project_user_expires", "leases", ["project_id", "user_id", "expires_at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        for name, (event, tables, body) in POSTGRES.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
                f"    {body}\n    RETURN NULL;\nEND\n$$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON annotations REFERENCING {tables} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    else:
        for name, (event, body) in SQLITE.items():
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON annotations BEGIN {body} END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in SQLITE:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON annotations" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index("ix_leases_project_user_expires", table_name="leases")
    op.create_index("ix_leases_project_user", "leases", ["project_id", "user_id"])
    op.drop_index("ix_items_unlabeled_random", table_name="items")
    op.create_index("ix_items_project_random", "items", ["project_id", "random_key"])
    op.drop_column("items", "labeled")  # in place (SQLite 3.35+), as in 0005
