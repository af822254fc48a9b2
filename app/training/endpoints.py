"""JSON routes for the model: status, predictions, training runs, suspicious labels."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from starlette.datastructures import State

from app.deps import ActorDep, ReadSession, SettingsDep, WriteSession
from app.errors import Conflict, responses
from app.fields import Text
from app.learning.audit import MIN_INTERVAL_N
from app.models import ModelVersion, Project
from app.projects.access import ManagedProject, ReadProject, ReviewReadProject
from app.projects.service import counts
from app.ratelimits import rate_limited
from app.routing import GuardedRoute
from app.training import audit as audit_sample
from app.training import issues, service, summary
from app.training.details import ModelDetails
from app.training.inputs import inputs, within_budget
from app.training.taskshape import Shape

if TYPE_CHECKING:
    from app.training.predictor import Predictor

router = APIRouter(
    prefix="/projects/{project_id}",
    tags=["model"],
    responses=responses(404),
    route_class=GuardedRoute,
)


class StoppingOut(BaseModel):
    """Whether more labels still change the model (``app.learning.stopping``)."""

    kappa: float | None = Field(
        description="Cohen's kappa between this model's and the previous model's predictions "
        "on a fixed sample of the pool (null for the first model)."
    )
    kappa_history: list[float | None] = Field(description="Kappa of the last models, oldest first.")
    metric_history: list[float | None] = Field(
        description="Cross-validated macro-F1 of the same models, oldest first."
    )
    threshold: float
    runs: int
    stabilised: bool = Field(
        description="Kappa has been at least `threshold` for `runs` models in a row and the "
        "cross-validated metric is flat: further labels are unlikely to change predictions."
    )
    message: str


class AuditOut(BaseModel):
    """The model's figures on the audit sample: labels drawn uniformly at random from the pool
    and never trained on nor used to pick the queue, so an unbiased estimate of its quality."""

    n: int = Field(description="Labelled audit items the model was measured on.")
    accuracy: float = Field(description="Share of them predicted right (multi-label: exactly).")
    accuracy_low: float = Field(description="Lower end of its 95 % Wilson interval.")
    accuracy_high: float = Field(description="Upper end of its 95 % Wilson interval.")
    macro_f1: float = Field(description="Macro-F1 over the labels the audit sample holds.")
    macro_f1_low: float | None = Field(
        description="Lower end of its 95 % bootstrap interval; null: too few audit labels "
        f"for an interval (fewer than {MIN_INTERVAL_N}, or every resample gave one value)."
    )
    macro_f1_high: float | None = Field(description="Upper end of that interval, or null.")


class ModelOut(BaseModel):
    version: int | None
    status: str
    n_labels: int
    trained_at: datetime | None
    metrics: dict[str, float] | None
    audit: AuditOut | None = Field(
        description="Accuracy and macro-F1 on the audit sample, beside the cross-validated "
        "`metrics` (null: no labelled audit items when the model was trained)."
    )
    labels_total: int
    labels_until_retrain: int
    strategy: str | None
    features: str | None
    warm_up: bool = Field(
        description="The published ranking leads with a warm-up batch of typical items (the "
        "project has fewer labels per class than its warm_up option)."
    )
    stopping: StoppingOut


class RunOut(BaseModel):
    id: int
    status: str
    reason: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    n_labels: int | None
    model_version_id: int | None
    timings: dict[str, Any]
    error: str | None


# ``Text`` refuses NUL, as every other string of the API does (PostgreSQL cannot hold it).
PredictText = Annotated[Text, StringConstraints(max_length=100_000)]


class PredictItem(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    fields: dict[Annotated[Text, StringConstraints(max_length=100)], PredictText] = Field(
        max_length=20, description="The item's text of each of the project's fields."
    )


class PredictDocument(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    sentences: list[PredictText] = Field(
        min_length=1, max_length=1000, description="The document's sentences, in order."
    )


class PredictIn(BaseModel):
    """One of: ``texts`` (one text per item), ``items`` (several fields), ``documents``
    (sentence selection: each document's sentences)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    texts: list[PredictText] | None = Field(None, min_length=1, max_length=1000)
    items: list[PredictItem] | None = Field(None, min_length=1, max_length=1000)
    documents: list[PredictDocument] | None = Field(None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one_kind(self) -> PredictIn:
        given = [name for name in ("texts", "items", "documents") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("send exactly one of texts, items or documents")
        if self.documents and sum(len(d.sentences) for d in self.documents) > 1000:
            raise ValueError("at most 1000 sentences per request")
        return self


class PredictOut(BaseModel):
    model_version: int
    predictions: list[dict[str, Any]]


class LabelIssueOut(BaseModel):
    rank: int = Field(description="0 is the most suspicious label.")
    item_id: int
    text: str
    labels: list[str] = Field(description="The item's final labels (empty if no longer final).")
    suggested: list[str] = Field(description="The labels the model gives the item.")
    score: float = Field(
        description="Out-of-fold probability of the given label: low means likely wrong."
    )


class LabelIssuesOut(BaseModel):
    run_id: int | None = Field(description="The training run that ranked them (null: none).")
    issues: list[LabelIssueOut]


def _current(session: ReadSession, project: Project) -> ModelVersion | None:
    return service.published_model(session, project)


_PREDICTOR_LOCK = threading.Lock()


def _predictor(state: State) -> Predictor:
    """The process's predictor, made at its first prediction.

    It loads scikit-learn and the encoders (~100 MB and ~2 s in a fresh process), which a web
    process that does not train needs for nothing else, so it is imported here and not at the
    app's start.
    """
    with _PREDICTOR_LOCK:
        found: Predictor | None = getattr(state, "predictor", None)
        if found is None:
            from app.training.predictor import Predictor

            found = state.predictor = Predictor()
        return found


def _audit(model: ModelVersion | None) -> AuditOut | None:
    found = audit_sample.figures(model.metrics) if model else None
    return None if found is None else AuditOut.model_validate(found, from_attributes=True)


@router.get("/model")
def get_model(project: ReadProject, session: ReadSession) -> ModelOut:
    """The published model version, its cross-validated metrics and the training status."""
    model = _current(session, project)
    total = counts(session, project).n_labeled  # kept by triggers: no count over the pool
    until_retrain = summary.labels_until_retrain(session, project)
    stopping = summary.stopping(session, project.id)
    return ModelOut(
        version=model.version if model else None,
        status=service.status(session, project.id),
        n_labels=model.n_labels if model else 0,
        trained_at=model.trained_at if model else None,
        metrics=audit_sample.cross_validated(model.metrics) if model else None,
        audit=_audit(model),
        labels_total=total,
        labels_until_retrain=until_retrain,
        strategy=model.strategy if model else None,
        features=ModelDetails.of(model).features if model else None,
        warm_up=ModelDetails.of(model).warm_up if model else False,
        stopping=StoppingOut.model_validate(stopping, from_attributes=True),
    )


@router.post("/predict", responses=responses(409, 429), dependencies=[rate_limited("predict")])
def predict(
    project: ReadProject,
    body: PredictIn,
    session: ReadSession,
    request: Request,
    settings: SettingsDep,
) -> PredictOut:
    """Predict labels for texts, items' fields or documents' sentences with the published
    model (422 when they do not fit the project's items, 409 before the first model, 413 when
    the texts together are over the character limit)."""
    shape = Shape.of(project)
    given = inputs(
        shape,
        texts=body.texts,
        items=[item.fields for item in body.items] if body.items else None,
        documents=[d.sentences for d in body.documents] if body.documents else None,
    )
    within_budget(given.texts(), settings.predict_max_chars)
    model = _current(session, project)
    if model is None:
        raise Conflict("the project has no trained model yet")
    predictions = _predictor(request.app.state).predict(model, given, shape)
    return PredictOut(model_version=model.version, predictions=predictions)


@router.post(
    "/train",
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(403, 429),
    dependencies=[rate_limited("train")],
)
def train(project: ManagedProject, session: WriteSession, actor: ActorDep) -> RunOut:
    """Queue a training run now (joins the queued one if there is one)."""
    run = service.train_now(session, project, actor=actor)
    return RunOut.model_validate(run, from_attributes=True)


@router.get("/runs")
def list_runs(project: ReadProject, session: ReadSession) -> list[RunOut]:
    """The project's training runs, newest first, with timings and errors."""
    return [
        RunOut.model_validate(r, from_attributes=True)
        for r in service.list_runs(session, project.id)
    ]


@router.get("/label-issues", responses=responses(403))
def list_label_issues(
    project: ReviewReadProject,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=issues.MAX_ISSUES)] = 100,
    offset: Annotated[int, Query(ge=0, le=issues.MAX_ISSUES)] = 0,
) -> LabelIssuesOut:
    """Labelled items whose label is likely wrong, most suspicious first (reviewers, managers)."""
    found = issues.suspicious_labels(session, project, limit=limit, offset=offset)
    return LabelIssuesOut(
        run_id=found[0].run_id if found else None,
        issues=[LabelIssueOut.model_validate(i, from_attributes=True) for i in found],
    )
