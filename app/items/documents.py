"""How the API shows the task shapes: an item's fields and its place in its document, and a
document with its sentences (offsets and labels), read for a page of items at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.items.summaries import labels_of
from app.models import Document, Item, Project


class PlaceOut(BaseModel):
    """Where a sentence item sits: ``text[start:end]`` of its document is the sentence."""

    id: int = Field(description="The document's id (GET .../documents/{id}).")
    external_id: str | None
    position: int = Field(description="0-based index of the sentence in the document.")
    start: int
    end: int


class SentenceOut(BaseModel):
    id: int  # the item
    position: int
    start: int
    end: int
    labels: list[str] = Field(description="Final labels (an annotator: their own); [] if none.")


class DocumentOut(BaseModel):
    id: int
    external_id: str | None
    text: str
    sentences: list[SentenceOut]


def places(session: Session, items: Sequence[Any]) -> dict[int, PlaceOut]:
    """The place of each sentence among ``items`` (ORM items), in one read of their
    documents' ids; no read at all for items of no document."""
    wanted = {i.document_id for i in items if getattr(i, "document_id", None) is not None}
    if not wanted:
        return {}
    names = dict(
        session.execute(select(Document.id, Document.external_id).where(Document.id.in_(wanted)))
        .tuples()
        .all()
    )
    return {
        i.id: PlaceOut(
            id=i.document_id,
            external_id=names.get(i.document_id),
            position=i.position,
            start=i.start_offset,
            end=i.end_offset,
        )
        for i in items
        if getattr(i, "document_id", None) is not None
    }


def get_document(
    session: Session, project: Project, document_id: int, *, user_id: int | None = None
) -> DocumentOut:
    """A document of the project with its sentences in order (NotFound for another
    project's); ``user_id``: labels are that annotator's own (labelling is blind)."""
    document = session.scalar(
        select(Document).where(Document.id == document_id, Document.project_id == project.id)
    )
    if document is None:
        raise NotFound(f"document {document_id} not found in project {project.id}")
    sentences = session.execute(
        select(Item.id, Item.position, Item.start_offset, Item.end_offset)
        .where(Item.document_id == document.id)
        .order_by(Item.position)
    ).all()
    labels = labels_of(session, project, [s.id for s in sentences], user_id)
    return DocumentOut(
        id=document.id,
        external_id=document.external_id,
        text=document.text,
        sentences=[
            SentenceOut(
                id=s.id,
                position=s.position,
                start=s.start_offset,
                end=s.end_offset,
                labels=labels.get(s.id, []),
            )
            for s in sentences
        ],
    )
