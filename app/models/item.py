"""Items: one text of a project's pool, stored once per project (by text hash).

A multi-field item (``Project.item_fields``) keeps all its fields in ``fields`` and its primary
field's text in ``text``; its hash covers every field, so the identity of an item is all of its
fields. A sentence item points at its ``Document`` with its position and offsets.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CompactUTCDateTime, utcnow


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("project_id", "text_hash"),
        # Keyset pagination of a project's items by id.
        Index("ix_items_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    # ``app.items.identity.text_hash``: 16 bytes of the SHA-256 of the text (or fields).
    text_hash: Mapped[bytes] = mapped_column(LargeBinary(16))
    # Seeded pseudo-random order used before the first model exists (31 bits: 4 bytes on SQLite,
    # an ``integer`` on PostgreSQL; ``app.items.identity.random_key``).
    random_key: Mapped[int] = mapped_column(Integer)
    # Has at least one annotation: kept by triggers on ``annotations`` (migration 0006).
    labeled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Served as part of the uniformly random audit sample: its labels measure the model
    # (honest accuracy) and are never trained on.
    audit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Every named field of a multi-field item (None when the project has the one field "text").
    fields: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    # A sentence of a document (sentence selection): where it sits in the document's text.
    # A plain column (see migration 0013): the document goes with its project or its import.
    document_id: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int | None] = mapped_column(Integer)
    start_offset: Mapped[int | None] = mapped_column(Integer)
    end_offset: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(CompactUTCDateTime, default=utcnow)


UNLABELED = Item.__table__.c.labeled == false()
# The seeded random order of a project's unlabelled items: the queue's order before a
# ranking exists and beyond its end. Labelled items leave the index, so finding the next
# free item skips only leased ones, however many are labelled.
Index(
    "ix_items_unlabeled_random",
    Item.project_id,
    Item.random_key,
    sqlite_where=UNLABELED,
    postgresql_where=UNLABELED,
)
# A project's audit items (a few per cent of its labels): counted by every queue request.
AUDIT = Item.__table__.c.audit == true()
Index(
    "ix_items_audit",
    Item.project_id,
    Item.random_key,
    sqlite_where=AUDIT,
    postgresql_where=AUDIT,
)
# External ids are unique in a project. Items imported without one are not in the index: they
# would be entries of (project_id, NULL): 11 bytes an item on SQLite, 7 on PostgreSQL. Every
# look-up by id (``external_id IN ...``, ``= ANY(...)``) implies NOT NULL, so it can use it.
HAS_EXTERNAL_ID = Item.__table__.c.external_id.is_not(None)
Index(
    "uq_items_project_id_external_id",
    Item.project_id,
    Item.external_id,
    unique=True,
    sqlite_where=HAS_EXTERNAL_ID,
    postgresql_where=HAS_EXTERNAL_ID,
)
# A document's sentences in order (the annotate screen's context, the summary export). Only
# sentence items are in it: other items would be entries of NULLs (11 bytes an item on SQLite).
SENTENCE = Item.__table__.c.document_id.is_not(None)
Index(
    "ix_items_document_position",
    Item.document_id,
    Item.position,
    sqlite_where=SENTENCE,
    postgresql_where=SENTENCE,
)
