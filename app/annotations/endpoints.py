"""JSON routes for submitting annotations and reading an item's label history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from app.annotations import idempotency, service
from app.annotations.agreement import AgreementOut, project_agreement
from app.annotations.history import LabelEntry, item_history
from app.deps import CurrentUser, ReadSession, WriteSession, WritingDep
from app.errors import responses
from app.fields import Id, PathId, Text
from app.models import ProjectRole, User
from app.oracles import suggestions
from app.projects.access import LabelCaller, ProjectRefDep, ProjectRoleDep, ReadProject
from app.projects.service import ProjectRef
from app.ratelimits import rate_limited
from app.routing import GuardedRoute, json_response

router = APIRouter(prefix="/projects/{project_id}", tags=["annotations"], route_class=GuardedRoute)
REPLAYED = {"Idempotent-Replayed": "true"}
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",
        description="Makes a retry safe: the same key with the same body replays the first "
        "response (for 24 hours); the same key with another body is refused with 422.",
    ),
]


class AnnotationIn(BaseModel):
    """``label`` for single-label projects, ``labels`` (a list) for multi-label ones."""

    model_config = ConfigDict(strict=True, extra="forbid")

    item_id: Id
    label: Text | None = Field(default=None, max_length=200)
    labels: list[Text] | None = Field(default=None, max_length=1000)
    flag: Literal["unsure"] | None = Field(default=None, description="Sends the item to review.")
    comment: Text | None = Field(
        default=None, max_length=service.MAX_COMMENT, description="Sends the item to review."
    )
    suggestion_id: Id | None = Field(
        default=None,
        description="The oracle suggestion shown with the item (the queue's `suggestion.id`): "
        "the label is recorded as that suggestion accepted, or changed.",
    )
    correction: Text | None = Field(
        default=None,
        max_length=service.MAX_CORRECTION,
        description="Translation review: the corrected translation, stored with the label.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> AnnotationIn:
        if (self.label is None) == (self.labels is None):
            raise ValueError("send exactly one of 'label' or 'labels'")
        return self

    def label_list(self) -> list[str]:
        return [self.label] if self.label is not None else list(self.labels or [])

    def doubt(self) -> service.Doubt:
        return service.check_doubt(self.flag, self.comment)


class BulkAnnotationsIn(BaseModel):
    """Up to ``MAX_BULK`` annotations, each item at most once; stored all or none."""

    model_config = ConfigDict(strict=True, extra="forbid")

    annotations: list[AnnotationIn] = Field(min_length=1, max_length=service.MAX_BULK)


class AnnotationOut(BaseModel):
    id: int
    item_id: int
    label: str | None
    labels: list[str]
    annotator: str
    flag: str | None = None
    comment: str | None = None
    correction: str | None = None
    created_at: datetime
    updated_at: datetime


REPLACED: dict[int | str, dict[str, Any]] = {
    200: {"model": AnnotationOut, "description": "Replaced an earlier label"}
}


@router.post(
    "/annotations",
    status_code=status.HTTP_201_CREATED,
    response_model=AnnotationOut,
    response_description="A new label",
    responses=REPLACED | responses(404, 409, 429),
)
async def submit_annotation(
    caller: LabelCaller,
    body: AnnotationIn,
    writing: WritingDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Label an item: 201 when new, 200 when it replaces this annotator's earlier label."""
    store = partial(_store_one, caller.project, body, caller.user, idempotency_key)
    return await writing.run(store)  # on the loop, or one thread hop


def _store_one(
    project: ProjectRef, body: AnnotationIn, user: User, key: str | None, session: Session
) -> Response:
    path = f"/projects/{project.id}/annotations"
    if replay := _claim(session, user, key, path, body):
        return replay
    rules = service.label_rules(session, project.id)
    shown = _suggested(session, project.id, [body])
    annotation, created = service.submit(
        session,
        rules,
        user,
        item_id=body.item_id,
        labels=body.label_list(),
        doubt=body.doubt(),
        correction=body.correction,
    )
    _mark(session, [annotation], [body], shown)
    status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    out = _out(rules, annotation, user)
    _record(session, user, key, status_code, out)
    return json_response(out, status_code)  # serialised here: no thread hop to validate it


def _suggested(session: Session, project_id: int, bodies: list[AnnotationIn]) -> list[list[str]]:
    """The labels of each body's suggestion (checked before anything is written)."""
    return [
        suggestions.check(session, project_id, b.item_id, b.suggestion_id)
        if b.suggestion_id is not None
        else []
        for b in bodies
    ]


def _mark(
    session: Session,
    stored: Sequence[service.Stored],
    bodies: list[AnnotationIn],
    shown: list[list[str]],
) -> None:
    for annotation, body, labels in zip(stored, bodies, shown, strict=True):
        if body.suggestion_id is not None:
            suggestions.mark(session, annotation.id, body.suggestion_id, labels)


class BulkAnnotationsOut(BaseModel):
    annotations: list[AnnotationOut]  # in the order sent
    created: int  # new labels
    replaced: int  # labels that replaced (or repeated) the annotator's earlier one


@router.post(
    "/annotations/bulk",
    response_model=BulkAnnotationsOut,
    response_description="The stored labels, in the order sent",
    responses=responses(404, 409, 429),
    dependencies=[rate_limited("label")],
)
def submit_annotations(
    project: ProjectRefDep,
    body: BulkAnnotationsIn,
    user: CurrentUser,
    session: WriteSession,
    idempotency_key: IdempotencyKeyHeader = None,
) -> BulkAnnotationsOut | Response:
    """Label several items in one request (for scripts and pre-labellers): all or none.

    Each entry is what ``POST /annotations`` takes. The first bad entry refuses the whole
    request (422 or 404, its message starting ``annotations[k]:``) and nothing is stored.
    """
    path = f"/projects/{project.id}/annotations/bulk"
    if replay := _claim(session, user, idempotency_key, path, body):
        return replay
    rules = service.label_rules(session, project.id)
    entries = [(a.item_id, a.label_list()) for a in body.annotations]
    doubts = [a.doubt() for a in body.annotations]
    shown = _suggested(session, project.id, body.annotations)
    corrections = [a.correction for a in body.annotations]
    results = service.submit_many(session, rules, user, entries, doubts, corrections)
    _mark(session, [annotation for annotation, _ in results], body.annotations, shown)
    created = sum(new for _, new in results)
    out = BulkAnnotationsOut(
        annotations=[_out(rules, annotation, user) for annotation, _ in results],
        created=created,
        replaced=len(results) - created,
    )
    _record(session, user, idempotency_key, status.HTTP_200_OK, out)
    session.commit()  # now, not after FastAPI validates the response (see app.deps)
    return out


def _claim(
    session: Session, user: User, key: str | None, path: str, body: BaseModel
) -> JSONResponse | None:
    """With an idempotency key: claim it (None: go ahead) or the first response to replay."""
    if key is None:
        return None
    request_hash = idempotency.fingerprint("POST", path, _fingerprinted(body.model_dump()))
    stored = idempotency.claim(session, user.id, key, request_hash)
    if stored is None:
        return None
    return JSONResponse(stored.body, stored.status_code, headers=REPLAYED)


def _fingerprinted(data: dict[str, Any]) -> dict[str, Any]:
    """The body as fingerprinted before flags existed when it has none, so a retry that spans
    the upgrade still replays (a label with no flag and no comment hashes as it did)."""
    data = {k: v for k, v in data.items() if not (k in DOUBT_FIELDS and v is None)}
    if isinstance(data.get("annotations"), list):
        data["annotations"] = [_fingerprinted(entry) for entry in data["annotations"]]
    return data


# fields added since keys were kept
DOUBT_FIELDS = ("flag", "comment", "suggestion_id", "correction")


def _record(
    session: Session, user: User, key: str | None, status_code: int, out: BaseModel
) -> None:
    """Store the response under the idempotency key (if any), in the labels' transaction."""
    if key is not None:
        idempotency.record(session, user.id, key, status_code, out.model_dump(mode="json"))


def _out(project: service.LabelRules, annotation: service.Stored, user: User) -> AnnotationOut:
    return AnnotationOut(
        id=annotation.id,
        item_id=annotation.item_id,
        label=None if project.multi_label else annotation.labels[0],
        labels=annotation.labels,
        annotator=user.name,
        flag=annotation.doubt.flag,
        comment=annotation.doubt.comment,
        correction=annotation.correction,
        created_at=annotation.created_at,
        updated_at=annotation.updated_at,
    )


class LabelOut(BaseModel):
    annotator: str | None = Field(description="None for imported seed labels.")
    labels: list[str]
    source: str
    labelled_at: datetime
    correction: str | None = Field(default=None, description="Translation review.")


class PastLabelOut(LabelOut):
    change: Literal["replaced", "removed"] = Field(description="removed: withdrawn by undo.")
    changed_at: datetime


class ItemHistoryOut(BaseModel):
    item_id: int
    current: list[LabelOut]  # newest first
    history: list[PastLabelOut]  # newest change first


@router.get("/items/{item_id}/history", responses=responses(404))
def label_history(
    project_id: PathId,  # declared first, so the OpenAPI lists it before item_id
    item_id: PathId,
    project: ProjectRefDep,
    role: ProjectRoleDep,
    user: CurrentUser,
    session: ReadSession,
) -> ItemHistoryOut:
    """An item's current labels and every label that was replaced or withdrawn, newest first;
    an annotator sees only their own (labelling is blind)."""
    own = None if role.rank >= ProjectRole.REVIEWER.rank else user.id
    found = item_history(session, project.id, item_id, user_id=own)
    return ItemHistoryOut(
        item_id=found.item_id,
        current=[_label_out(entry) for entry in found.current],
        history=[PastLabelOut(**vars(entry)) for entry in found.past],
    )


def _label_out(entry: LabelEntry) -> LabelOut:
    return LabelOut(
        annotator=entry.annotator,
        labels=entry.labels,
        source=entry.source,
        labelled_at=entry.labelled_at,
        correction=entry.correction,
    )


@router.get("/agreement", responses=responses(404))
def agreement(project: ReadProject, session: ReadSession) -> AgreementOut:
    """Inter-annotator agreement (Cohen, Fleiss, Krippendorff) overall, per label, per annotator."""
    return project_agreement(session, project)
