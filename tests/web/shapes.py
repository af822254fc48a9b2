"""Projects of the task shapes for the annotate screen's tests, built through the ORM: a
translation review of (source, translation) pairs, and documents split into sentence items."""

from __future__ import annotations

import hashlib
import re

from app.db import Database
from app.models import Document, Item, Project
from tests.factories import create_project

ERRORS = ["ok", "mistranslation", "omission", "grammar"]
PAIRS = [
    ("Der Hund schläft im Garten.", "The dog sleeps in the garden."),
    ("Ich habe keine Zeit.", "I have no money."),
    ("Das Wetter ist heute schön.", "The weather is nice."),
    ("Wir gehen morgen ins Kino.", "We goes to the cinema tomorrow."),
    ("Sie liest ein Buch.", "She reads a book."),
    ("Er trinkt Kaffee ohne Zucker.", "He drinks coffee with sugar."),
]


def _hash(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()[:16]


def translation_project(
    db: Database, pairs: list[tuple[str, str]] = PAIRS, *, name: str = "review"
) -> Project:
    """A translation review whose items are ``(source, translation)`` pairs."""
    project = create_project(db, name=name, labels=ERRORS, batch_size=100)
    with db.writer() as session, session.begin():
        stored = session.get_one(Project, project.id)
        stored.task = "translation_review"
        stored.item_fields = ["source", "translation"]
        stored.primary_field = "translation"
        stored.layout = "side_by_side"
        for i, (source, translation) in enumerate(pairs):
            session.add(
                Item(
                    project_id=project.id,
                    external_id=f"p{i}",
                    text=translation,
                    text_hash=_hash(source, translation),
                    random_key=i,
                    fields={"source": source, "translation": translation},
                )
            )
    return project


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``: up to a full stop, ? or ! and a space."""
    return [(m.start(), m.end()) for m in re.finditer(r"\S.*?[.?!](?=\s|$)", text, re.S)]


def sentence_project(
    db: Database, documents: list[str], *, labels: list[str] | None = None
) -> Project:
    """A sentence selection: each document stored once, each sentence an item of it."""
    project = create_project(
        db, name="summaries", labels=labels or ["include", "exclude"], batch_size=100
    )
    with db.writer() as session, session.begin():
        stored = session.get_one(Project, project.id)
        stored.task = "sentence_selection"
        for d, text in enumerate(documents):
            spans = sentences(text)
            document = Document(
                project_id=project.id,
                external_id=f"doc{d}",
                text=text,
                text_hash=_hash(text),
                n_sentences=len(spans),
            )
            session.add(document)
            session.flush()
            for position, (start, end) in enumerate(spans):
                session.add(
                    Item(
                        project_id=project.id,
                        external_id=f"doc{d}-s{position}",
                        text=text[start:end],
                        text_hash=_hash(str(document.id), str(position), text[start:end]),
                        random_key=d * 1000 + position,
                        document_id=document.id,
                        position=position,
                        start_offset=start,
                        end_offset=end,
                    )
                )
    return project
