"""Exports of the task shapes that are not label rows: per document, the sentences selected
(an extractive summary), and a translation review's (source, translation, correction)
triples, ready for fine-tuning. Streamed as JSON Lines on a session of their own."""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from app.annotations.outcomes import item_outcomes
from app.errors import Invalid
from app.models import Annotation, Document, Item, Project
from app.projects.service import options
from app.projects.shape import SENTENCE_SELECTION, TRANSLATION_REVIEW

BATCH = 200  # documents read at a time
TRIPLES_BATCH = 1000  # corrections read at a time, with their items' final labels
INCLUDE = "include"
# Which task each export needs.
TASK_OF = {"summaries": SENTENCE_SELECTION, "triples": TRANSLATION_REVIEW}


def check(project: Project, fmt: str) -> None:
    """Invalid when the project's task has no such export."""
    task = TASK_OF.get(fmt)
    if task is not None and project.task != task:
        raise Invalid(f"format: {fmt} is the export of {task} projects, not of {project.task}")


def include_label(project: Project) -> str:
    """The label that selects a sentence: "include", or the project's first label."""
    return INCLUDE if INCLUDE in project.labels else project.labels[0]


def stream(
    factory: sessionmaker[Session], project_id: int, fmt: str, *, user_id: int | None = None
) -> Iterator[str]:
    """The lines of the export ``fmt`` (one of TASK_OF); ``user_id``: that annotator's labels."""
    with factory() as session:
        project = session.get_one(Project, project_id)
        lines = _summaries if fmt == "summaries" else _triples
        yield from lines(session, project, user_id)


def _summaries(session: Session, project: Project, user_id: int | None) -> Iterator[str]:
    """One object per document: its id, text and the selected sentences in order, so the
    file imports back as the same documents."""
    after = 0
    while True:
        documents = session.scalars(
            select(Document)
            .where(Document.project_id == project.id, Document.id > after)
            .order_by(Document.id)
            .limit(BATCH)
        ).all()
        if not documents:
            return
        after = documents[-1].id
        sentences = session.execute(
            select(Item.id, Item.document_id, Item.position, Item.text)
            .where(Item.document_id.in_([d.id for d in documents]))
            .order_by(Item.document_id, Item.position)
        ).all()
        chosen = labels_of(session, project, [s.id for s in sentences], user_id)
        include = include_label(project)
        for document in documents:
            mine = [s for s in sentences if s.document_id == document.id]
            picked = [s for s in mine if include in chosen.get(s.id, ())]
            out = {
                "document_id": document.id,
                "id": document.external_id,
                "text": document.text,
                "sentences": document.n_sentences,
                "labelled": sum(s.id in chosen for s in mine),
                "positions": [s.position for s in picked],
                "summary": [s.text for s in picked],
            }
            yield json.dumps(out, ensure_ascii=False) + "\n"


def labels_of(
    session: Session, project: Project, item_ids: list[int], user_id: int | None
) -> dict[int, list[str]]:
    """Each item's final labels, or (``user_id``) that annotator's own."""
    if user_id is not None:
        rows = session.execute(
            select(Annotation.item_id, Annotation.labels).where(
                Annotation.item_id.in_(item_ids), Annotation.user_id == user_id
            )
        )
        return {item_id: labels for item_id, labels in rows}
    found = item_outcomes(
        session,
        project.id,
        options(project),
        multi_label=project.multi_label,
        item_ids=item_ids,
    )
    return {i: list(o.outcome.labels) for i, o in found.items() if o.outcome.labels}


def _triples(session: Session, project: Project, user_id: int | None) -> Iterator[str]:
    """One object per correction: the source, the translation and its correction. Only a
    correction whose label is the item's final label: one a reviewer or the other annotators
    overruled (an ``omission`` the final ``ok``) is no translation to learn from. An
    annotator's own export (``user_id``) has each of their corrections, as they see no
    outcomes."""
    after = 0
    while True:
        rows = session.execute(_corrections(project.id, user_id, after)).all()
        if not rows:
            return
        after = rows[-1].id
        finals = None
        if user_id is None:
            finals = labels_of(session, project, sorted({row.item_id for row in rows}), None)
        for row in rows:
            if finals is not None and sorted(row.labels) != sorted(finals.get(row.item_id, ())):
                continue  # not (or not yet) the item's final label
            fields = row.fields or {}
            out = {
                "item_id": row.item_id,
                "source": fields.get("source"),
                "translation": fields.get("translation", row.text),
                "correction": row.correction,
                "label": row.labels[0] if row.labels else None,
            }
            yield json.dumps(out, ensure_ascii=False) + "\n"


def _corrections(
    project_id: int, user_id: int | None, after: int
) -> Select[int, int, dict[str, str] | None, str, list[str], str | None]:
    """The next ``TRIPLES_BATCH`` corrections after annotation ``after``, with their items."""
    stmt = (
        select(
            Annotation.id,
            Annotation.item_id,
            Item.fields,
            Item.text,
            Annotation.labels,
            Annotation.correction,
        )
        .join(Item, Annotation.item_id == Item.id)
        .where(
            Annotation.project_id == project_id,
            Annotation.correction.is_not(None),
            Annotation.id > after,
        )
        .order_by(Annotation.id)
        .limit(TRIPLES_BATCH)
    )
    return stmt if user_id is None else stmt.where(Annotation.user_id == user_id)
