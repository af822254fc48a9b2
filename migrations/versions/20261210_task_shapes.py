"""Task shapes: items with several named fields, documents split into sentences, corrections.

``projects.task`` names the task (``classification``, ``translation_review``,
``sentence_selection``); ``item_fields`` the named text fields of its items (empty: the one
field ``text``), ``primary_field`` the one shown first and used where one text is needed, and
``layout`` how the fields are shown. ``items.fields`` holds every field of a multi-field item
(``items.text`` stays the primary field's text, so everything that reads one text keeps
working). A sentence item points at its document (``documents``) with its position and
character offsets, so a document's text is stored once however many sentences it has. The
pointer is a plain column, not a foreign key: SQLite cannot add one to a table in place, and
rebuilding ``items`` would drop the counter triggers of revision 0005; a document goes with its
project (cascade) or with the import that brought it.
``annotations.correction`` is an annotator's corrected translation; label history keeps it
(the triggers of revision 0007 are recreated to copy it, and fire when it changes too).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = app.models.base.UTCDateTime(timezone=True)
_COLUMNS = (
    "annotation_id, project_id, item_id, user_id, labels, source, labelled_at, change, changed_at{}"
)
_SQLITE_NOW = (
    "strftime('%Y-%m-%d %H:%M:%S', 'now') || '.' || substr(strftime('%f', 'now'), 4) || '000'"
)
_TRIGGERS = ("trg_annotations_history_update", "trg_annotations_history_delete")


def upgrade() -> None:
    op.add_column(
        "projects",
        sa.Column("task", sa.String(length=40), server_default="classification", nullable=False),
    )
    op.add_column(
        "projects",
        sa.Column("item_fields", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
    )
    op.add_column(
        "projects",
        sa.Column("primary_field", sa.String(length=100), server_default="text", nullable=False),
    )
    op.add_column(
        "projects",
        sa.Column("layout", sa.String(length=20), server_default="stacked", nullable=False),
    )
    # An import job keeps the field mapping it was started with (field -> column).
    op.add_column("import_jobs", sa.Column("field_map", sa.JSON(), nullable=True))
    op.add_column(
        "import_jobs", sa.Column("correction_field", sa.String(length=200), nullable=True)
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("n_sentences", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_documents_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint(
            "project_id", "text_hash", name=op.f("uq_documents_project_id_text_hash")
        ),
        sa.UniqueConstraint(
            "project_id", "external_id", name=op.f("uq_documents_project_id_external_id")
        ),
    )
    _item_columns()
    op.add_column("annotations", sa.Column("correction", sa.Text(), nullable=True))
    op.add_column("annotation_history", sa.Column("correction", sa.Text(), nullable=True))
    _drop_triggers()
    _create_triggers(with_correction=True)


def _item_columns() -> None:
    op.add_column("items", sa.Column("fields", sa.JSON(), nullable=True))
    op.add_column("items", sa.Column("document_id", sa.Integer(), nullable=True))
    for column in ("position", "start_offset", "end_offset"):
        op.add_column("items", sa.Column(column, sa.Integer(), nullable=True))
    op.create_index("ix_items_document_position", "items", ["document_id", "position"])


def _drop_triggers() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON annotations" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")


def _create_triggers(*, with_correction: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers(with_correction)
    else:
        _sqlite_triggers(with_correction)


def _sqlite_triggers(with_correction: bool) -> None:
    columns = _COLUMNS.format(", correction" if with_correction else "")
    extra = ", OLD.correction" if with_correction else ""
    changed = "OLD.labels IS NOT NEW.labels"
    update = "AFTER UPDATE OF labels ON annotations WHEN " + changed
    if with_correction:
        update = (
            "AFTER UPDATE OF labels, correction ON annotations WHEN "
            f"{changed} OR OLD.correction IS NOT NEW.correction"
        )
    triggers = {
        _TRIGGERS[0]: (update, "'replaced'"),
        _TRIGGERS[1]: ("AFTER DELETE ON annotations", "'removed'"),
    }
    for name, (when, change) in triggers.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} BEGIN\n"
            f"    INSERT INTO annotation_history ({columns}) VALUES (OLD.id, "
            f"OLD.project_id, OLD.item_id, OLD.user_id, OLD.labels, OLD.source, "
            f"OLD.updated_at, {change}, {_SQLITE_NOW}{extra});\nEND"
        )


def _postgres_triggers(with_correction: bool) -> None:
    columns = _COLUMNS.format(", correction" if with_correction else "")
    extra = ", o.correction" if with_correction else ""
    changed = "o.labels::text <> n.labels::text"
    if with_correction:
        changed += " OR o.correction IS DISTINCT FROM n.correction"
    triggers = {
        _TRIGGERS[0]: (
            "UPDATE",
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "'replaced'",
            f"old_rows o JOIN new_rows n ON n.id = o.id WHERE {changed}",
        ),
        _TRIGGERS[1]: ("DELETE", "OLD TABLE AS old_rows", "'removed'", "old_rows o"),
    }
    for name, (event, tables, change, source) in triggers.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"    INSERT INTO annotation_history ({columns})\n"
            f"    SELECT o.id, o.project_id, o.item_id, o.user_id, o.labels, o.source, "
            f"o.updated_at, {change}, now(){extra} FROM {source};\n"
            "    RETURN NULL;\nEND\n$$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON annotations REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    _drop_triggers()
    _create_triggers(with_correction=False)
    op.drop_column("annotation_history", "correction")
    op.drop_column("annotations", "correction")
    op.drop_index("ix_items_document_position", table_name="items")
    for column in ("end_offset", "start_offset", "position", "document_id", "fields"):
        op.drop_column("items", column)
    op.drop_table("documents")
    op.drop_column("import_jobs", "correction_field")
    op.drop_column("import_jobs", "field_map")
    for column in ("layout", "primary_field", "item_fields", "task"):
        op.drop_column("projects", column)
