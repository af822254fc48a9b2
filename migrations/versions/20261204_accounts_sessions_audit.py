"""Accounts and trust: named API tokens, server-side web sessions, disabled and deleted
users, the audit log, and label history kept by triggers.

Existing users keep their one token as a token named ``default`` (same digest, so it keeps
working). ``users.token_hash`` stays as a column (see ``app.models.user``).

``annotation_history`` is written by triggers on ``annotations`` (a changed ``labels`` or a
deleted row copies the old row), like the counters of revision 0005: whichever code path
replaces or removes a label, the old one is kept. PostgreSQL: statement-level triggers over
transition tables; SQLite: row-level triggers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HISTORY_COLUMNS = (
    "annotation_id, project_id, item_id, user_id, labels, source, labelled_at, change, changed_at"
)
# SQLAlchemy's SQLite text form of a UTC timestamp, to the microsecond.
_SQLITE_NOW = (
    "strftime('%Y-%m-%d %H:%M:%S', 'now') || '.' || substr(strftime('%f', 'now'), 4) || '000'"
)
_SQLITE_TRIGGERS = {
    "trg_annotations_history_update": (
        "AFTER UPDATE OF labels ON annotations WHEN OLD.labels IS NOT NEW.labels",
        "'replaced'",
    ),
    "trg_annotations_history_delete": ("AFTER DELETE ON annotations", "'removed'"),
}
_POSTGRES_TRIGGERS = {
    "trg_annotations_history_update": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "'replaced'",
        "old_rows o JOIN new_rows n ON n.id = o.id WHERE o.labels::text <> n.labels::text",
    ),
    "trg_annotations_history_delete": (
        "DELETE",
        "OLD TABLE AS old_rows",
        "'removed'",
        "old_rows o",
    ),
}


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, app.models.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # Plain ALTER TABLE (never batch mode): rebuilding ``users`` on SQLite would set every
    # annotation's user_id to NULL through its ON DELETE SET NULL.
    op.add_column("users", _time("disabled_at", True))
    op.add_column("users", _time("deleted_at", True))
    _tokens_and_sessions()
    _audit()
    _history()
    op.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at) "
        "SELECT id, 'default', token_hash, created_at FROM users"
    )
    op.execute("UPDATE users SET token_hash = 'retired-' || id")


def _tokens_and_sessions() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _time("created_at", False),
        _time("expires_at", True),
        _time("last_used_at", True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _time("created_at", False),
        _time("last_seen_at", False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_web_sessions_key_hash")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])


def _audit() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        _time("at", False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_action_id", "audit_events", ["action", "id"])


def _history() -> None:
    op.create_table(
        "annotation_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotation_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        _time("labelled_at", False),
        sa.Column("change", sa.String(length=10), nullable=False),
        _time("changed_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_history")),
    )
    op.create_index(
        "ix_annotation_history_project_item", "annotation_history", ["project_id", "item_id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    for name, (when, change) in _SQLITE_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} BEGIN\n"
            f"    INSERT INTO annotation_history ({_HISTORY_COLUMNS}) VALUES (OLD.id, "
            f"OLD.project_id, OLD.item_id, OLD.user_id, OLD.labels, OLD.source, "
            f"OLD.updated_at, {change}, {_SQLITE_NOW});\nEND"
        )


def _postgres_triggers() -> None:
    for name, (event, tables, change, source) in _POSTGRES_TRIGGERS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"    INSERT INTO annotation_history ({_HISTORY_COLUMNS})\n"
            f"    SELECT o.id, o.project_id, o.item_id, o.user_id, o.labels, o.source, "
            f"o.updated_at, {change}, now() FROM {source};\n"
            "    RETURN NULL;\nEND\n$$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON annotations REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON annotations" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.execute(
        "UPDATE users SET token_hash = (SELECT t.token_hash FROM api_tokens t "
        "WHERE t.user_id = users.id ORDER BY t.id LIMIT 1) "
        "WHERE EXISTS (SELECT 1 FROM api_tokens t WHERE t.user_id = users.id)"
    )
    op.drop_index("ix_annotation_history_project_item", table_name="annotation_history")
    op.drop_table("annotation_history")
    op.drop_index("ix_audit_events_action_id", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_column("users", "deleted_at")
    op.drop_column("users", "disabled_at")
