"""Review requests: items sent to review by hand from the data manager.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_review_requests_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "review_requests",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        _fk("item_id", "items", "CASCADE"),
        _fk("project_id", "projects", "CASCADE"),
        _fk("user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_review_requests")),
    )
    op.create_index(op.f("ix_review_requests_project_id"), "review_requests", ["project_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_review_requests_project_id"), table_name="review_requests")
    op.drop_table("review_requests")
