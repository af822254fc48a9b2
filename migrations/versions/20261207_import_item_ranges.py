"""Imports that can be undone: every import is a row of ``import_jobs`` with its items' ids.

An import publishes its items in one INSERT, serialised per project, so the items it added
are exactly the project's items with ids from ``first_item_id`` to ``last_item_id``; undoing
the import deletes them. Imports made before this revision have no range and cannot be
undone (their items can still be deleted one by one or in bulk).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("import_jobs", sa.Column("first_item_id", sa.Integer(), nullable=True))
    op.add_column("import_jobs", sa.Column("last_item_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("import_jobs", "last_item_id")
    op.drop_column("import_jobs", "first_item_id")
