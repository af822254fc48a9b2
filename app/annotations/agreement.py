"""A project's inter-annotator agreement: its human labels as ratings matrices, handed to the
pure coefficients of ``app.learning.agreement`` (overall, per label) and ``annotators``.

Single-label: the overall figures treat the labels as nominal categories, and each label's
figures its present/absent split. Multi-label: every (item, label) is a present/absent unit; a
label's figures use its units, the overall ones pool them (resampling items, not units).
Agreement with the model uses the published model's ranking: its guess for an item, made while
the item was unlabelled, so never trained on the label it is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.learning import agreement as coefficients
from app.learning.agreement import MISSING, N_RESAMPLES, SEED
from app.learning.annotators import consensus_agreement, matches, pace
from app.models import Adjudication, Annotation, Lease, ModelVersion, Project, RankEntry, User

NOT_ENOUGH = (
    "No item has labels from two annotators yet: agreement needs items labelled by at least "
    "two people (several annotators may label the same item)."
)


class EstimateOut(BaseModel):
    value: float | None = Field(description="None when undefined or with no item to rest on.")
    n_items: int = Field(description="Items the figure rests on.")
    ci_low: float | None = Field(description="Bootstrap 95 % interval (resampling items).")
    ci_high: float | None


class FiguresOut(BaseModel):
    cohen_kappa: EstimateOut = Field(
        description="Mean of Cohen's kappa over annotator pairs, each weighted by the items "
        "it shares."
    )
    fleiss_kappa: EstimateOut
    krippendorff_alpha: EstimateOut = Field(description="Nominal.")


class LabelFiguresOut(FiguresOut):
    label: str = Field(description="Figures of this label present versus absent.")


class PairOut(BaseModel):
    annotator_a: str
    annotator_b: str
    n_items: int
    cohen_kappa: float | None


class AnnotatorOut(BaseModel):
    annotator: str
    n_labels: int
    consensus_agreement: float | None = Field(
        description="Share of decisions equal to the strict majority of the other annotators."
    )
    consensus_n: int
    model_agreement: float | None = Field(
        description="Share of decisions equal to the published model's prediction."
    )
    model_n: int
    review_agreement: float | None = Field(
        default=None,
        description="Share of the labels on adjudicated items equal to the reviewer's label.",
    )
    review_n: int = 0
    labels_per_hour: float | None = Field(
        description="Labels / active time; a gap over 10 minutes between labels is a break."
    )
    median_seconds_between_labels: float | None
    skips: int


class AgreementOut(BaseModel):
    n_items: int = Field(description="Items labelled by at least two annotators.")
    n_annotators: int
    message: str | None = Field(description="Why the figures are missing, when they are.")
    resamples: int
    seed: int
    overall: FiguresOut
    pairs: list[PairOut]
    labels: list[LabelFiguresOut]
    annotators: list[AnnotatorOut]


@dataclass(frozen=True)
class Ratings:
    """A project's human labels as arrays (rows: labelled items; columns: annotators)."""

    names: list[str]  # per annotator column
    user_ids: list[int]
    item_ids: np.ndarray  # (n_items,)
    presence: np.ndarray  # (n_items, n_raters, n_labels) bool
    rated: np.ndarray  # (n_items, n_raters) bool
    times: list[np.ndarray]  # per annotator, label times in seconds


def project_agreement(session: Session, project: Project) -> AgreementOut:
    """Agreement figures of the project's human labels (None with n = 0 when not computable)."""
    ratings = _ratings(session, project)
    model = _model_presence(session, project, ratings)
    units, clusters, n_categories = _units(ratings, multi_label=project.multi_label)
    overall = coefficients.agreement(units, n_categories, clusters=clusters)
    return AgreementOut(
        n_items=overall.alpha.n,
        n_annotators=len(ratings.names),
        message=None if overall.alpha.n else NOT_ENOUGH,
        resamples=N_RESAMPLES,
        seed=SEED,
        overall=_figures(overall),
        pairs=[
            PairOut(
                annotator_a=ratings.names[p.rater_a],
                annotator_b=ratings.names[p.rater_b],
                n_items=p.n,
                cohen_kappa=p.kappa,
            )
            for p in overall.pairs
        ],
        labels=_per_label(ratings, project.labels),
        annotators=_annotators(session, project, ratings, model),
    )


def _ratings(session: Session, project: Project) -> Ratings:
    rows = session.execute(
        select(Annotation.item_id, Annotation.user_id, Annotation.labels, Annotation.created_at)
        .where(
            Annotation.project_id == project.id,
            Annotation.source == "human",
            Annotation.user_id.is_not(None),
        )
        .order_by(Annotation.item_id)
    ).all()
    user_ids = sorted({row.user_id for row in rows})
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(user_ids))).all())
    item_ids = np.array(sorted({row.item_id for row in rows}), dtype=np.int64)
    column = {user_id: j for j, user_id in enumerate(user_ids)}
    label_index = {label: k for k, label in enumerate(project.labels)}
    presence = np.zeros((len(item_ids), len(user_ids), len(project.labels)), dtype=bool)
    rated = np.zeros((len(item_ids), len(user_ids)), dtype=bool)
    times: list[list[float]] = [[] for _ in user_ids]
    for row in rows:
        i, j = int(np.searchsorted(item_ids, row.item_id)), column[row.user_id]
        rated[i, j] = True
        for label in row.labels:
            if label in label_index:
                presence[i, j, label_index[label]] = True
        times[j].append(_seconds(row.created_at))
    return Ratings(
        names=[names.get(u, f"user {u}") for u in user_ids],
        user_ids=user_ids,
        item_ids=item_ids,
        presence=presence,
        rated=rated,
        times=[np.array(t) for t in times],
    )


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def _single_codes(presence: np.ndarray, rated: np.ndarray) -> np.ndarray:
    """(n_items, n_raters) label index of a single-label project, MISSING where unrated."""
    return np.where(rated & presence.any(axis=2), presence.argmax(axis=2), MISSING)


def _binary(presence: np.ndarray, rated: np.ndarray, label: int) -> np.ndarray:
    """(n_items, n_raters) 1/0 for the label present/absent, MISSING where unrated."""
    return np.where(rated, presence[:, :, label].astype(np.int64), MISSING)


def _units(ratings: Ratings, *, multi_label: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """The overall ratings matrix, the item of each row, and the number of categories."""
    n_items, _, n_labels = ratings.presence.shape
    if not multi_label:
        return _single_codes(ratings.presence, ratings.rated), np.arange(n_items), n_labels
    stacked = [_binary(ratings.presence, ratings.rated, k) for k in range(n_labels)]
    units = np.vstack(stacked) if stacked else np.zeros((0, len(ratings.names)), np.int64)
    return units, np.tile(np.arange(n_items), n_labels), 2


def _per_label(ratings: Ratings, labels: list[str]) -> list[LabelFiguresOut]:
    out = []
    for k, label in enumerate(labels):
        result = coefficients.agreement(_binary(ratings.presence, ratings.rated, k), 2)
        out.append(LabelFiguresOut(label=label, **_figures(result).model_dump()))
    return out


def _estimate(estimate: coefficients.Estimate) -> EstimateOut:
    return EstimateOut(
        value=estimate.value, n_items=estimate.n, ci_low=estimate.low, ci_high=estimate.high
    )


def _figures(result: coefficients.Agreement) -> FiguresOut:
    return FiguresOut(
        cohen_kappa=_estimate(result.cohen),
        fleiss_kappa=_estimate(result.fleiss),
        krippendorff_alpha=_estimate(result.alpha),
    )


def _model_presence(session: Session, project: Project, ratings: Ratings) -> np.ndarray | None:
    """(n_items, n_labels + 1): the published model's predicted labels per labelled item, and
    in the last column whether it predicted the item at all; None without a model."""
    version = session.get(ModelVersion, project.current_model_id or 0)
    if version is None or version.version <= 0:  # none yet, or a cold-start ranking
        return None
    rows = session.execute(
        select(RankEntry.item_id, RankEntry.prediction).where(
            RankEntry.model_version_id == version.id,
            RankEntry.item_id.in_(
                select(Annotation.item_id).where(Annotation.project_id == project.id)
            ),
        )
    ).all()
    out = np.full((len(ratings.item_ids), len(project.labels) + 1), False)
    label_index = {label: k for k, label in enumerate(project.labels)}
    for item_id, prediction in rows:
        i = int(np.searchsorted(ratings.item_ids, item_id))
        if i >= len(ratings.item_ids) or ratings.item_ids[i] != item_id:
            continue
        out[i, -1] = True  # the model made a prediction for this item
        for label in _predicted(prediction):
            if label in label_index:
                out[i, label_index[label]] = True
    return out


def _predicted(prediction: dict[str, Any]) -> list[str]:
    if "labels" in prediction:
        return list(prediction["labels"])
    return [prediction["label"]] if prediction.get("label") is not None else []


def _model_units(model: np.ndarray, *, multi_label: bool) -> np.ndarray:
    """The model's predictions shaped like the overall units, MISSING where it has none."""
    predicted, has = model[:, :-1], model[:, -1]
    if not multi_label:
        return np.where(has & predicted.any(axis=1), predicted.argmax(axis=1), MISSING)
    columns = [np.where(has, predicted[:, k], MISSING) for k in range(predicted.shape[1])]
    return np.concatenate(columns) if columns else np.zeros(0, np.int64)


def _skips(session: Session, project: Project) -> dict[int, int]:
    rows = session.execute(
        select(Lease.user_id, func.count())
        .where(Lease.project_id == project.id, Lease.skipped.is_(True))
        .group_by(Lease.user_id)
    ).all()
    return {user_id: n for user_id, n in rows}


def _reviewed(
    session: Session, project: Project, ratings: Ratings
) -> tuple[np.ndarray, np.ndarray]:
    """Per annotator (n_raters,): their labels equal to a reviewer's final label, and their
    labels on adjudicated items."""
    n_raters = len(ratings.names)
    hits, n = np.zeros(n_raters, np.int64), np.zeros(n_raters, np.int64)
    label_index = {label: k for k, label in enumerate(project.labels)}
    final = select(Adjudication.item_id, Adjudication.labels).where(
        Adjudication.project_id == project.id
    )
    for item_id, labels in session.execute(final):
        i = int(np.searchsorted(ratings.item_ids, item_id))
        if i >= len(ratings.item_ids) or ratings.item_ids[i] != item_id:
            continue
        wanted = np.zeros(len(project.labels), dtype=bool)
        wanted[[label_index[label] for label in labels if label in label_index]] = True
        rated = ratings.rated[i]
        hits += rated & (ratings.presence[i] == wanted).all(axis=1)
        n += rated
    return hits, n


def _annotators(
    session: Session, project: Project, ratings: Ratings, model: np.ndarray | None
) -> list[AnnotatorOut]:
    units, _, n_categories = _units(ratings, multi_label=project.multi_label)
    consensus = consensus_agreement(units, n_categories)
    reference = None if model is None else _model_units(model, multi_label=project.multi_label)
    skips = _skips(session, project)
    hits, reviewed = _reviewed(session, project, ratings)
    out = []
    for j, name in enumerate(ratings.names):
        with_model = matches(units[:, j], reference) if reference is not None else None
        speed = pace(ratings.times[j])
        out.append(
            AnnotatorOut(
                annotator=name,
                n_labels=int(ratings.rated[:, j].sum()),
                consensus_agreement=consensus[j].value,
                consensus_n=consensus[j].n,
                model_agreement=with_model.value if with_model else None,
                model_n=with_model.n if with_model else 0,
                review_agreement=float(hits[j] / reviewed[j]) if reviewed[j] else None,
                review_n=int(reviewed[j]),
                labels_per_hour=speed.labels_per_hour,
                median_seconds_between_labels=speed.median_seconds,
                skips=skips.get(ratings.user_ids[j], 0),
            )
        )
    return out
