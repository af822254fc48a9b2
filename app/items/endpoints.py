"""JSON routes for dataset import and export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Form,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from app.deps import (
    ActorDep,
    CurrentUser,
    DatabaseDep,
    ReadSession,
    SettingsDep,
    WriteSession,
)
from app.errors import responses
from app.fields import MAX_ID, PathId
from app.fields import Text as QueryText
from app.items import documents, export, filters, jobs, listing, manager, removal, service, shaped
from app.items.documents import DocumentOut, PlaceOut
from app.items.schemas import ImportJobOut, ImportOut
from app.projects.access import (
    ManagedProject,
    ManagedProjectRef,
    ProjectRoleDep,
    ReadProject,
    ReviewProject,
    WriteProject,
)
from app.projects.service import get_project
from app.ratelimits import rate_limited
from app.routing import GuardedRoute

router = APIRouter(
    prefix="/projects/{project_id}",
    tags=["items"],
    responses=responses(404),
    route_class=GuardedRoute,
)


class LatestLabelOut(BaseModel):
    labels: list[str]
    source: str
    annotator: str | None
    updated_at: datetime


class ItemOut(BaseModel):
    id: int
    external_id: str | None
    text: str
    fields: dict[str, str] | None = None  # every named field (None: the one field text)
    document: PlaceOut | None = None  # a sentence's document
    created_at: datetime
    n_annotations: int
    latest: LatestLabelOut | None
    outcome: str | None = None
    final_labels: list[str] | None = None
    prediction: str | None = None
    confidence: float | None = None
    score: float | None = None


class ItemPageOut(BaseModel):
    items: list[ItemOut]
    next: int | None
    next_score: float | None = None


class ItemLabelsIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=removal.MAX_DELETE
    )
    labels: list[Annotated[str, Field(max_length=200)]] = Field(min_length=1, max_length=100)


class LabelledOut(BaseModel):
    labelled: int


class RequestedOut(BaseModel):
    requested: int  # not already waiting in the review queue on request


def _item_out(row: listing.ItemRow, placed: dict[int, PlaceOut]) -> ItemOut:
    latest = row.latest
    return ItemOut(
        id=row.item.id,
        external_id=row.item.external_id,
        text=row.item.text,
        fields=row.item.fields,
        document=placed.get(row.item.id),
        created_at=row.item.created_at,
        n_annotations=row.n_annotations,
        latest=LatestLabelOut(**vars(latest)) if latest else None,
        outcome=row.outcome,
        final_labels=row.final_labels,
        prediction=row.guess.label if row.guess else None,
        confidence=row.guess.confidence if row.guess else None,
        score=row.guess.score if row.guess else None,
    )


class ItemIdsIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=removal.MAX_DELETE
    )


class DeletedOut(BaseModel):
    deleted: int


@router.post(
    "/imports",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportOut,
    responses={
        **responses(403, 415, 429),
        202: {"model": ImportJobOut, "description": "A background import job was started"},
    },
    dependencies=[rate_limited("import")],
)
def import_file(
    request: Request,
    project: ManagedProjectRef,  # loaded below: a large upload is copied before the session begins
    file: Annotated[UploadFile, File(description="CSV, TSV, JSONL or JSON (array of objects)")],
    session: WriteSession,
    settings: SettingsDep,
    tasks: BackgroundTasks,
    actor: ActorDep,
    text_field: Annotated[str, Form(min_length=1, max_length=200)] = "text",
    label_field: Annotated[str | None, Form(max_length=200)] = None,
    id_field: Annotated[str | None, Form(max_length=200)] = None,
    format: Annotated[str | None, Form(max_length=10)] = None,
    fields: Annotated[
        str | None,
        Form(
            max_length=shaped.MAX_MAPPING,
            description="The project's fields as a JSON object of field to column, e.g. "
            '{"source": "src", "translation": "mt"} (default: the column named as the field).',
        ),
    ] = None,
    correction_field: Annotated[str | None, Form(max_length=200)] = None,
    background: Annotated[
        bool | None, Query(description="Import in a background job (default: for large files)")
    ] = None,
) -> ImportOut | JSONResponse:
    """Import a dataset, all or nothing; rows with a label become seed annotations."""
    options = service.ImportOptions(
        filename=file.filename,
        format=format or None,
        text_field=text_field,
        label_field=label_field or None,
        id_field=id_field or None,
        max_text_chars=settings.max_text_chars,
        fields=shaped.parse_mapping(fields),
        correction_field=correction_field or None,
    )
    if jobs.in_background(settings, file.size, background):
        job = jobs.start(session, settings, project.id, file.file, options, actor=actor)
        tasks.add_task(request.app.state.imports.submit, job.id)
        body = ImportJobOut.model_validate(job).model_dump(mode="json")
        location = request.url_for("get_import_job", project_id=project.id, job_id=job.id)
        return JSONResponse(body, status_code=202, headers={"Location": location.path})
    result = service.import_file(
        session, get_project(session, project.id), file.file, options, actor=actor
    )
    return ImportOut(
        imported=result.imported,
        duplicates=result.duplicates,
        labeled=result.labeled,
        import_id=result.import_id,
        documents=result.documents,
    )


@router.get("/imports/{job_id}", responses=responses(403))
def get_import_job(
    project_id: PathId,  # declared first, so the OpenAPI lists it before job_id
    job_id: PathId,
    project: ManagedProjectRef,
    session: ReadSession,
) -> ImportJobOut:
    """A background import job: its status, progress and, once finished, counts or error."""
    return ImportJobOut.model_validate(jobs.get_job(session, project.id, job_id))


@router.get("/imports", responses=responses(403))
def list_imports(project: ManagedProjectRef, session: ReadSession) -> list[ImportJobOut]:
    """The project's imports, newest first (at most 100)."""
    return [ImportJobOut.model_validate(job) for job in jobs.list_jobs(session, project.id)]


@router.delete("/imports/{job_id}", responses=responses(403, 409))
def undo_import(
    project_id: PathId,  # declared first, so the OpenAPI lists it before job_id
    job_id: PathId,
    project: ManagedProject,
    session: WriteSession,
    actor: ActorDep,
) -> DeletedOut:
    """Undo an import: delete the items it added, with their labels (audited)."""
    return DeletedOut(deleted=removal.undo_import(session, project, job_id, actor=actor))


def item_filter(
    role: ProjectRoleDep,
    user: CurrentUser,
    q: Annotated[
        QueryText | None, Query(max_length=500, description="Text contains (any case).")
    ] = None,
    label: Annotated[QueryText | None, Query(max_length=200, description="Final label.")] = None,
    annotator: Annotated[QueryText | None, Query(max_length=200, description="User name.")] = None,
    status: filters.ItemStatus = "all",
    source: filters.Source | None = None,
    prediction: Annotated[
        QueryText | None, Query(max_length=200, description="The published model's best label.")
    ] = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    sort: filters.Sort = "id",
) -> filters.ItemFilter:
    """The data manager's filters from the query string; an annotator sees their own rows."""
    return filters.ItemFilter(
        q=q or None,
        label=label or None,
        annotator=annotator or None,
        status=status,
        source=source,
        prediction=prediction or None,
        min_confidence=min_confidence,
        max_confidence=max_confidence,
        sort=sort,
        own_user_id=export.rows_of(role, user),
    )


ItemFilterDep = Annotated[filters.ItemFilter, Depends(item_filter)]


@router.get("/items")
def list_items(
    project: ReadProject,
    session: ReadSession,
    flt: ItemFilterDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="The `next` of the previous page (0: first).")
    ] = 0,
    after_score: Annotated[
        float | None,
        Query(
            allow_inf_nan=False,
            description="With `sort=score`: the `next_score` of the last page.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=listing.MAX_PAGE)] = 50,
) -> ItemPageOut:
    """A page of the project's items (filtered; by id or by the model's score), each with its
    latest label(s), final label and the model's guess; an annotator sees only their own."""
    page = listing.list_items(
        session, project, after=after, after_score=after_score, limit=limit, flt=flt
    )
    placed = documents.places(session, [row.item for row in page.rows])
    items = [_item_out(row, placed) for row in page.rows]
    return ItemPageOut(items=items, next=page.next, next_score=page.next_score)


@router.get("/documents/{document_id}", responses=responses(404))
def get_document(
    project_id: PathId,  # declared first, so the OpenAPI lists it before document_id
    document_id: PathId,
    project: ReadProject,
    role: ProjectRoleDep,
    user: CurrentUser,
    session: ReadSession,
) -> DocumentOut:
    """A document of a sentence-selection project: its text and its sentences (item ids,
    offsets, final labels; an annotator sees only their own labels)."""
    own = export.rows_of(role, user)
    return documents.get_document(session, project, document_id, user_id=own)


@router.post("/items/label", responses=responses(403))
def label_items(
    project: ReviewProject,
    body: ItemLabelsIn,
    user: CurrentUser,
    session: WriteSession,
    actor: ActorDep,
) -> LabelledOut:
    """Set the final label(s) of up to 1,000 items, as a reviewer (adjudications, audited)."""
    n = manager.relabel(session, project, user, item_ids=body.ids, labels=body.labels, actor=actor)
    return LabelledOut(labelled=n)


@router.post("/items/review", responses=responses(403))
def send_to_review(
    project: ReviewProject,
    body: ItemIdsIn,
    user: CurrentUser,
    session: WriteSession,
    actor: ActorDep,
) -> RequestedOut:
    """Send up to 1,000 items to the review queue, all or none (audited)."""
    n = manager.send_to_review(session, project, user, item_ids=body.ids, actor=actor)
    return RequestedOut(requested=n)


@router.delete("/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(403))
def delete_item(
    project_id: PathId,  # declared first, so the OpenAPI lists it before item_id
    item_id: PathId,
    project: ManagedProject,
    session: WriteSession,
    actor: ActorDep,
) -> None:
    """Delete an item with its labels (audited; no undo)."""
    removal.delete_items(session, project, [item_id], actor=actor)


@router.post("/items/delete", responses=responses(403))
def delete_items(
    project: ManagedProject, body: ItemIdsIn, session: WriteSession, actor: ActorDep
) -> DeletedOut:
    """Delete up to 1,000 items with their labels, all or none (audited; no undo)."""
    return DeletedOut(deleted=removal.delete_items(session, project, body.ids, actor=actor))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The export file",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
        **responses(429),
    },
    dependencies=[rate_limited("export")],
)
def export_annotations(
    project: WriteProject,
    role: ProjectRoleDep,
    user: CurrentUser,
    session: WriteSession,
    db: DatabaseDep,
    actor: ActorDep,
    format: Literal["csv", "jsonl", "summaries", "triples"] = "csv",
) -> StreamingResponse:
    """Every labelled item with its label(s), fields, correction, annotator and time, as CSV
    or JSONL (audited); an annotator gets only their own rows. ``summaries`` (sentence
    selection): per document, the included sentences in order; ``triples`` (translation
    review): source, translation and correction of every corrected label."""
    user_id = export.rows_of(role, user)
    lines, media, filename = export.open_stream(db.reader, project, format, user_id=user_id)
    export.record_export(session, project, format, actor=actor, own_rows=user_id is not None)
    return StreamingResponse(
        lines,
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
