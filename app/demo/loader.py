"""The demo projects, one per task shape: a banking77 subset (classification), English→French
translation review on banking77 sentences, translated and labelled by hand, and sentence
selection on Wikipedia articles (``app.demo.articles``); sources in NOTICE.md."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo.articles import ARTICLES_GUIDELINES, ARTICLES_NAME, article_records
from app.items.service import ImportOptions, import_records
from app.models import Project
from app.projects.schemas import ProjectCreate
from app.projects.service import create_project
from app.projects.shape import (
    CLASSIFICATION,
    DEFAULT_LABELS,
    SENTENCE_SELECTION,
    TRANSLATION_REVIEW,
)
from app.training.service import queue_after_import

DEMO_FILE = Path(__file__).with_name("banking77_demo.csv")
DEMO_NAME = "Banking77 demo"
SEED_LABELS = 48
TRANSLATION_FILE = Path(__file__).with_name("translation_review_demo.jsonl")
TRANSLATION_NAME = "Translation review demo"
TRANSLATION_FIELDS = ["source", "translation"]
TRANSLATION_SEED = 30  # the first rows keep their label, and their correction if wrong


def load_demo(session: Session, *, task: str = CLASSIFICATION) -> tuple[Project, bool]:
    """Create the demo project of ``task`` unless it exists; returns it and whether it was
    created. The project is found by name, so a second run changes nothing."""
    name, build = DEMOS[task]
    existing = session.scalar(select(Project).where(Project.name == name))
    if existing is not None:
        return existing, False
    return build(session), True


def _classification(session: Session) -> Project:
    """The first ``SEED_LABELS`` rows keep their label (the seed set); the rest form the pool."""
    with DEMO_FILE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    labels = sorted({row["label"] for row in rows})
    project = create_project(
        session, ProjectCreate(name=DEMO_NAME, labels=labels, strategy="margin", batch_size=20)
    )
    records = (
        {"id": r["id"], "text": r["text"], "label": r["label"] if i < SEED_LABELS else None}
        for i, r in enumerate(rows)
    )
    _import(session, project, records, ImportOptions(filename="demo.jsonl"))
    return project


def translation_rows() -> list[dict[str, str | None]]:
    """The pairs of ``TRANSLATION_FILE``: id, source, translation, label, correction."""
    lines = TRANSLATION_FILE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def _translation_review(session: Session) -> Project:
    """Source and translation side by side; the first ``TRANSLATION_SEED`` pairs keep their
    label and, for the wrong ones, the correction."""
    project = create_project(
        session,
        ProjectCreate(
            name=TRANSLATION_NAME,
            labels=DEFAULT_LABELS[TRANSLATION_REVIEW],
            strategy="margin",
            batch_size=20,
            task="translation_review",
            fields=TRANSLATION_FIELDS,
            primary_field="translation",
            layout="side_by_side",
        ),
    )
    records = (
        {
            "id": r["id"],
            "source": r["source"],
            "translation": r["translation"],
            "label": r["label"] if i < TRANSLATION_SEED else None,
            "correction": r["correction"] if i < TRANSLATION_SEED else None,
        }
        for i, r in enumerate(translation_rows())
    )
    # the columns are named as the fields, and "correction": the import maps them by default
    _import(session, project, records, ImportOptions(filename="demo.jsonl"))
    return project


def _sentence_selection(session: Session) -> Project:
    """The articles as documents, split into sentence items by the import (no seed labels: a
    document takes none, and the queue serves representative sentences until two labels)."""
    project = create_project(
        session,
        ProjectCreate(
            name=ARTICLES_NAME,
            labels=DEFAULT_LABELS[SENTENCE_SELECTION],
            strategy="margin",
            batch_size=20,
            task="sentence_selection",
            guidelines=ARTICLES_GUIDELINES,
        ),
    )
    _import(session, project, article_records(), ImportOptions(filename="demo.jsonl"))
    return project


def _import(
    session: Session,
    project: Project,
    records: Iterable[Mapping[str, object]],
    options: ImportOptions,
) -> None:
    """Import ``records`` as a JSONL upload, through the same service as a user's file."""
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    result = import_records(session, project, io.BytesIO(text.encode("utf-8")), options)
    queue_after_import(session, project, imported=result.imported)


DEMOS: dict[str, tuple[str, Callable[[Session], Project]]] = {
    CLASSIFICATION: (DEMO_NAME, _classification),
    TRANSLATION_REVIEW: (TRANSLATION_NAME, _translation_review),
    SENTENCE_SELECTION: (ARTICLES_NAME, _sentence_selection),
}
