"""Oracles and their suggestions; project guidelines and label descriptions.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = app.models.base.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "oracles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("budget_calls", sa.Integer(), nullable=True),
        sa.Column("budget_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_per_1k_tokens", sa.Float(), nullable=True),
        sa.Column("calls_used", sa.Integer(), nullable=False),
        sa.Column("tokens_used", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("backoff_until", _TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        _fk("oracles", "project_id", "projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oracles")),
    )
    op.create_index(op.f("ix_oracles_project_id"), "oracles", ["project_id"])
    op.create_table(
        "suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("oracle_id", sa.Integer(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_version", sa.String(length=40), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(length=20), nullable=True),
        sa.Column("classifier_label", sa.String(length=200), nullable=True),
        sa.Column("classifier_confidence", sa.Float(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        _fk("suggestions", "project_id", "projects"),
        _fk("suggestions", "item_id", "items"),
        _fk("suggestions", "oracle_id", "oracles"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestions")),
    )
    op.create_index(op.f("ix_suggestions_project_id"), "suggestions", ["project_id"])
    op.create_index(op.f("ix_suggestions_item_id"), "suggestions", ["item_id"])
    op.create_index("ix_suggestions_oracle_item", "suggestions", ["oracle_id", "item_id"])
    op.add_column("annotations", sa.Column("suggestion_id", sa.Integer(), nullable=True))
    op.add_column("annotations", sa.Column("suggestion", sa.String(length=10), nullable=True))
    op.add_column("projects", sa.Column("guidelines", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "projects",
        sa.Column("label_descriptions", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
    )


def downgrade() -> None:
    # Not in batch mode: the counter triggers (0005) name these tables, and SQLite 3.35+
    # drops columns in place.
    op.drop_column("projects", "label_descriptions")
    op.drop_column("projects", "guidelines")
    op.drop_column("annotations", "suggestion")
    op.drop_column("annotations", "suggestion_id")
    op.drop_table("suggestions")
    op.drop_table("oracles")
