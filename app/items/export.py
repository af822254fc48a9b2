"""Export of every labelled item with its label(s), annotator and time, streamed as CSV or JSONL.

Each export is recorded in the audit log (:func:`record_export`) in the request's transaction,
before the rows stream on a session of their own.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.audit.service import Actor, record
from app.models import Annotation, Item, Project, User

FORMATS = ("csv", "jsonl")
CSV_COLUMNS = ("item_id", "external_id", "text", "label", "annotator", "source", "annotated_at")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000


def record_export(session: Session, project: Project, fmt: str, *, actor: Actor) -> None:
    """Record who exports the project, as what. The size is the labelled-item counter (one
    primary-key read): counting the annotations themselves would hold the write slot for a
    scan of the project's labels."""
    n_labeled = session.scalar(select(Project.n_labeled).where(Project.id == project.id))
    detail = {"format": fmt, "labelled_items": n_labeled}
    record(session, actor, "export", target=project.name, project_id=project.id, detail=detail)


def escape_formula(value: str) -> str:
    """Neutralise spreadsheet formulas (OWASP CSV injection): prefix a quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _rows(session: Session, project: Project) -> Iterator[dict[str, Any]]:
    stmt = (
        select(Annotation, Item, User.name)
        .join(Item, Item.id == Annotation.item_id)
        .outerjoin(User, User.id == Annotation.user_id)
        .where(Annotation.project_id == project.id)
        .order_by(Annotation.id)
        .execution_options(yield_per=BATCH)
    )
    for annotation, item, annotator in session.execute(stmt):
        yield {
            "item_id": item.id,
            "external_id": item.external_id,
            "text": item.text,
            "labels": annotation.labels,
            "annotator": annotator,
            "source": annotation.source,
            "annotated_at": annotation.updated_at.isoformat(),
        }


def _csv_line(values: list[Any]) -> str:
    """One CSV record, RFC 4180: CRLF-terminated, so a field with a bare CR is quoted too."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def _csv_row(row: dict[str, Any]) -> str:
    values = [
        row["item_id"],
        escape_formula(row["external_id"] or ""),
        escape_formula(row["text"]),
        escape_formula("|".join(row["labels"])),
        escape_formula(row["annotator"] or ""),
        row["source"],
        row["annotated_at"],
    ]
    return _csv_line(values)


def _jsonl_line(row: dict[str, Any], multi_label: bool) -> str:
    labels = row.pop("labels")
    if multi_label:
        row["labels"] = labels
    else:
        row["label"] = labels[0] if labels else None
    return json.dumps(row, ensure_ascii=False) + "\n"


def stream_export(factory: sessionmaker[Session], project_id: int, fmt: str) -> Iterator[str]:
    """Yield the export text in pieces, reading with a session of its own."""
    with factory() as session:
        project = session.get_one(Project, project_id)
        if fmt == "csv":
            yield _csv_line(list(CSV_COLUMNS))
        buffer: list[str] = []
        for row in _rows(session, project):
            buffer.append(_csv_row(row) if fmt == "csv" else _jsonl_line(row, project.multi_label))
            if len(buffer) >= BATCH:
                yield "".join(buffer)
                buffer.clear()
        if buffer:
            yield "".join(buffer)
