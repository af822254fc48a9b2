"""How an item is shown to a person: its named fields in the project's order, and a sentence
inside its document (the text around it, its position), read for a page's items at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AnnotationHistory, Document, Item, Project
from app.projects.shape import SENTENCE_SELECTION, TRANSLATION_REVIEW

# Text kept on each side of a sentence: neighbours in view without sending a whole book with
# each of the page's buffered items.
WINDOW = 3000


@dataclass(frozen=True)
class Field:
    name: str
    text: str
    primary: bool


@dataclass(frozen=True)
class InDocument:
    """A sentence and the document text around it (cut to ``WINDOW`` characters a side)."""

    before: str
    sentence: str
    after: str
    number: int  # 1-based position in the document
    total: int
    external_id: str | None


@dataclass(frozen=True)
class Shown:
    fields: list[Field]
    document: InDocument | None  # None for items of no (or no longer a) document
    translation: str | None  # translation review: the text a correction starts from
    correction: str | None  # what the correction box holds at first


def fields_of(project: Project, item: Item) -> list[Field]:
    """The item's fields in the project's order (any others after), or its one text."""
    if not item.fields:
        return [Field(project.primary_field or "text", item.text, True)]
    names = [n for n in project.item_fields if n in item.fields]
    names += [n for n in item.fields if n not in names]
    primary = project.primary_field if project.primary_field in names else names[0]
    return [Field(n, str(item.fields[n]), n == primary) for n in names]


def _translation(item: Item) -> str:
    """The text a translation review corrects (its shape requires the field)."""
    return str((item.fields or {}).get("translation", item.text))


def _cut_before(text: str) -> str:
    if len(text) <= WINDOW:
        return text
    tail = text[-WINDOW:]
    space = tail.find(" ")
    return "… " + (tail[space + 1 :] if 0 <= space < 80 else tail)


def _cut_after(text: str) -> str:
    if len(text) <= WINDOW:
        return text
    head = text[:WINDOW]
    space = head.rfind(" ")
    return (head[:space] if space > WINDOW - 80 else head) + " …"


def _in_document(item: Item, document: Document | None) -> InDocument | None:
    """The sentence in its document; None when the document is gone or the offsets do not
    give the sentence back (then the sentence is shown on its own)."""
    start, end = item.start_offset, item.end_offset
    if document is None or start is None or end is None or item.position is None:
        return None
    if not 0 <= start <= end <= len(document.text) or document.text[start:end] != item.text:
        return None
    return InDocument(
        before=_cut_before(document.text[:start]),
        sentence=item.text,
        after=_cut_after(document.text[end:]),
        number=item.position + 1,
        total=max(document.n_sentences, item.position + 1),
        external_id=document.external_id,
    )


def _documents(session: Session, items: Sequence[Item]) -> dict[int, Document]:
    ids = {item.document_id for item in items if item.document_id is not None}
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(ids)))}


def side_by_side(project: Project) -> bool:
    """Whether the fields stand side by side: the project's layout, and always for a
    translation review (source beside translation)."""
    return project.layout == "side_by_side" or project.task == TRANSLATION_REVIEW


def plain(project: Project) -> bool:
    """A project of one text per item: its items show their text and need no more reading."""
    return project.task not in (TRANSLATION_REVIEW, SENTENCE_SELECTION) and not project.item_fields


def _withdrawn(session: Session, user_id: int, item_id: int) -> str | None:
    """The correction of the user's label of the item withdrawn last (undo brings it back)."""
    return session.scalar(
        select(AnnotationHistory.correction)
        .where(
            AnnotationHistory.item_id == item_id,
            AnnotationHistory.user_id == user_id,
            AnnotationHistory.change == "removed",
        )
        .order_by(AnnotationHistory.id.desc())
        .limit(1)
    )


def shown(
    session: Session, project: Project, item_ids: Sequence[int], *, undone_by: int | None = None
) -> dict[int, Shown]:
    """How each item is shown, by item id (nothing for a plain project, whose items show their
    text); ``undone_by``: the items come back after that user's undo, so a withdrawn
    correction returns to the box."""
    if plain(project) or not item_ids:
        return {}
    items = list(session.scalars(select(Item).where(Item.id.in_(item_ids))))
    documents = _documents(session, items) if project.task == SENTENCE_SELECTION else {}
    out = {}
    for item in items:
        document = documents.get(item.document_id) if item.document_id is not None else None
        translation = _translation(item) if project.task == TRANSLATION_REVIEW else None
        correction = translation
        if translation is not None and undone_by is not None:
            correction = _withdrawn(session, undone_by, item.id) or translation
        out[item.id] = Shown(
            fields_of(project, item), _in_document(item, document), translation, correction
        )
    return out
