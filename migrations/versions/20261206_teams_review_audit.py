"""Teams: several leases per item (overlap), flags, adjudications, suspicious labels, audit items.

* ``leases`` gets a ``slot`` (0 .. overlap-1) and its primary key becomes ``(item_id, slot)``:
  an item asked of k annotators has up to k leases, one per slot; slot 0 is the one lease of a
  project with overlap 1, so existing rows keep their meaning.
* ``annotations`` get an annotator's ``flag`` ("unsure") and ``comment``: both send the item to
  review.
* ``adjudications``: a reviewer's final label of an item, beside its annotations (never over them).
* ``label_issues``: labelled items ranked by how likely their label is wrong, replaced by each
  training run (confident learning on out-of-fold probabilities).
* ``items.audit``: the item was served as part of the uniformly random audit sample; its labels
  measure the model and are never trained on. The partial index ``ix_items_audit`` holds only
  those items: every queue request counts a project's audit items, and the count must not read
  the pool.

``users`` and ``projects`` are never rebuilt (see revision 0007); ``leases`` is, on SQLite.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slot", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_constraint("pk_leases", type_="primary")
        batch_op.create_primary_key("pk_leases", ["item_id", "slot"])
    op.add_column("annotations", sa.Column("flag", sa.String(length=20), nullable=True))
    op.add_column("annotations", sa.Column("comment", sa.Text(), nullable=True))
    op.add_column(
        "items", sa.Column("audit", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    audit = sa.column("audit") == sa.true()
    op.create_index(
        "ix_items_audit",
        "items",
        ["project_id", "random_key"],
        sqlite_where=audit,
        postgresql_where=audit,
    )
    op.create_table(
        "adjudications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        _fk("adjudications", "project_id", "projects", "CASCADE"),
        _fk("adjudications", "item_id", "items", "CASCADE"),
        _fk("adjudications", "user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjudications")),
        sa.UniqueConstraint("item_id", name=op.f("uq_adjudications_item_id")),
    )
    op.create_index(op.f("ix_adjudications_project_id"), "adjudications", ["project_id"])
    op.create_table(
        "label_issues",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("suggested", sa.JSON(), nullable=False),
        _fk("label_issues", "project_id", "projects", "CASCADE"),
        _fk("label_issues", "item_id", "items", "CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "item_id", name=op.f("pk_label_issues")),
    )
    op.create_index("ix_label_issues_project_rank", "label_issues", ["project_id", "rank"])


def downgrade() -> None:
    op.drop_index("ix_label_issues_project_rank", table_name="label_issues")
    op.drop_table("label_issues")
    op.drop_index(op.f("ix_adjudications_project_id"), table_name="adjudications")
    op.drop_table("adjudications")
    op.drop_index("ix_items_audit", table_name="items")
    op.drop_column("items", "audit")  # in place (SQLite 3.35+): triggers on items/annotations stay
    op.drop_column("annotations", "comment")
    op.drop_column("annotations", "flag")
    op.execute("DELETE FROM leases WHERE slot <> 0")
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_constraint("pk_leases", type_="primary")
        batch_op.create_primary_key("pk_leases", ["item_id"])
        batch_op.drop_column("slot")
