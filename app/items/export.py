"""Export of every labelled item with its label(s), annotator and time, streamed as CSV or JSONL.

An annotator exports only their own rows; reviewers, managers and instance admins every row,
each with how its item's final label came about (``outcome``: individual, consensus,
adjudicated; disagreement or pending while there is none) and that final label. An
annotator's own rows leave both empty: they would tell the other annotators' labels.

Each export is recorded in the audit log (:func:`record_export`) in the request's transaction,
before the rows stream on a session of their own.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.annotations.outcomes import item_outcomes
from app.audit.service import Actor, record
from app.errors import Invalid
from app.items import formats, summaries
from app.items.formats.base import ExportRow
from app.models import Annotation, Document, Item, Project, ProjectRole, User
from app.projects.service import options

FORMATS = formats.EXPORT_FORMATS
# Every export: the label rows' formats, then the task shapes' own (``app.items.summaries``).
ALL_FORMATS = (*FORMATS, *summaries.TASK_OF)
BATCH = 1000


def open_stream(
    factory: sessionmaker[Session], project: Project, fmt: str, *, user_id: int | None = None
) -> tuple[Iterator[str], str, str]:
    """The export ``fmt`` of ``project``: its lines, media type and file name. Invalid for a
    format the project's task has not (checked now, before anything streams)."""
    if fmt not in ALL_FORMATS:
        raise Invalid(f"unknown export format {fmt!r}; use one of {', '.join(ALL_FORMATS)}")
    if fmt in summaries.TASK_OF:
        summaries.check(project, fmt)
        lines = summaries.stream(factory, project.id, fmt, user_id=user_id)
        return lines, "application/x-ndjson", f"project-{project.id}-{fmt}.jsonl"
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    lines = stream_export(factory, project.id, fmt, user_id=user_id)
    return lines, media, f"project-{project.id}-labels.{fmt}"


def rows_of(role: ProjectRole, user: User) -> int | None:
    """Whose rows an export by ``user`` holds: None for every row (reviewers and up), else
    the id of the annotator, who sees only their own work."""
    return None if role.rank >= ProjectRole.REVIEWER.rank else user.id


def record_export(
    session: Session, project: Project, fmt: str, *, actor: Actor, own_rows: bool = False
) -> None:
    """Record who exports the project, as what. The size is the labelled-item counter (one
    primary-key read): counting the annotations themselves would hold the write slot for a
    scan of the project's labels."""
    n_labeled = session.scalar(select(Project.n_labeled).where(Project.id == project.id))
    detail: dict[str, object] = {"format": fmt, "labelled_items": n_labeled}
    if own_rows:
        detail["own_rows"] = True
    record(session, actor, "export", target=project.name, project_id=project.id, detail=detail)


def _rows(session: Session, project: Project, user_id: int | None) -> Iterator[ExportRow]:
    stmt = (
        select(Annotation, Item, User.name, Document.external_id)
        .join(Item, Item.id == Annotation.item_id)
        .outerjoin(User, User.id == Annotation.user_id)
        .outerjoin(Document, Document.id == Item.document_id)
        .where(Annotation.project_id == project.id)
        .order_by(Annotation.id)
        .execution_options(yield_per=BATCH)
    )
    if user_id is not None:
        stmt = stmt.where(Annotation.user_id == user_id)
    batch: list[ExportRow] = []
    for annotation, item, annotator, document in session.execute(stmt):
        batch.append(
            {
                "item_id": item.id,
                "external_id": item.external_id,
                "text": item.text,
                "labels": annotation.labels,
                "annotator": annotator,
                "source": annotation.source,
                "annotated_at": annotation.updated_at.isoformat(),
                "outcome": None,
                "final_labels": None,
                "fields": item.fields,
                "correction": annotation.correction,
                "document": _place(item, document),
            }
        )
        if len(batch) >= BATCH:
            yield from _with_outcomes(session, project, batch, every_row=user_id is None)
            batch = []
    yield from _with_outcomes(session, project, batch, every_row=user_id is None)


def _place(item: Item, external_id: str | None) -> dict[str, object] | None:
    """A sentence's place in its document, as the export names it."""
    if item.document_id is None:
        return None
    return {
        "document_id": item.document_id,
        "document_external_id": external_id,
        "position": item.position,
        "start": item.start_offset,
        "end": item.end_offset,
    }


def _with_outcomes(
    session: Session, project: Project, batch: list[ExportRow], *, every_row: bool
) -> list[ExportRow]:
    """The rows with their item's outcome, read a batch at a time (memory stays bounded)."""
    if not every_row or not batch:
        return batch
    outcomes = item_outcomes(
        session,
        project.id,
        options(project),
        multi_label=project.multi_label,
        item_ids={row["item_id"] for row in batch},
    )
    for row in batch:
        found = outcomes.get(row["item_id"])
        if found is not None:
            row["outcome"] = found.outcome.status
            row["final_labels"] = list(found.outcome.labels) or None
    return batch


def stream_export(
    factory: sessionmaker[Session], project_id: int, fmt: str, *, user_id: int | None = None
) -> Iterator[str]:
    """Yield the export text in pieces, reading with a session of its own; only the rows of
    ``user_id`` if given (see ``rows_of``)."""
    write = formats.get(fmt).write
    if write is None:
        raise ValueError(f"{fmt} is not an export format")
    with factory() as session:
        project = session.get_one(Project, project_id)
        buffer: list[str] = []
        for line in write(_rows(session, project, user_id), project.multi_label):
            buffer.append(line)
            if len(buffer) >= BATCH:
                yield "".join(buffer)
                buffer.clear()
        if buffer:
            yield "".join(buffer)
