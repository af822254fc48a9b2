"""Publish a run's result: its model version and ranking become the ones readers see.

`publish` is the only write of a run's result, in one short transaction, so readers see the old
ranking or the new one and nothing between. A *cold-start* ranking (before any model can be
fitted) is stored as a model version numbered ``-run_id``, with no model file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.db import Database
from app.items import removal
from app.models import ModelVersion, Project, RankEntry, RunStatus, TrainingRun
from app.training import artifacts, featurestore, taskshape
from app.training.details import ModelDetails
from app.training.score import Ranking
from app.training.snapshot import Snapshot


def save_model(
    snap: Snapshot,
    feats: featurestore.PoolFeatures,
    model: Any,
    path: Path,
    details: ModelDetails,
) -> ModelVersion:
    """Write the model file and return its (unpublished, unnumbered) version."""
    payload = {"model": model, "labels": snap.labels, "multi_label": snap.multi_label}
    sha = artifacts.save(payload, path)
    return ModelVersion(
        project_id=snap.project_id,
        n_labels=len(snap.labeled),
        metrics=None,
        strategy=snap.strategy,
        path=str(path),
        sha256=sha,
        sklearn_version=artifacts.SKLEARN_VERSION,
        details=details.stored(),
    )


def model_details(
    feats: featurestore.PoolFeatures,
    run_id: int,
    stop_path: Path,
    *,
    kappa: Any,
    warm_up: bool,
    shape: taskshape.Shape = taskshape.PLAIN,
) -> ModelDetails:
    """What a fitted model's version records: its features, stop set and ranking's kind, and
    the items' shape when they are not one text (predictions featurise the same way)."""
    shaped: dict[str, Any] = {}
    if not shape.plain:
        shaped = {"task": shape.task, "fields": list(shape.fields), "primary_field": shape.primary}
    return ModelDetails(
        **shaped,
        features=feats.kind,
        embedder=feats.embedder,
        **({"encoder_path": str(feats.encoder_path)} if feats.encoder_path else {}),
        featurizer_path=str(feats.featurizer_path) if feats.featurizer_path else None,
        featurizer_sha256=feats.featurizer_sha256,
        run_id=run_id,
        stop_path=str(stop_path),
        kappa=kappa,
        warm_up=warm_up,
    )


def cold_start_version(
    snap: Snapshot, feats: featurestore.PoolFeatures, run_id: int
) -> ModelVersion:
    """The version of a cold-start ranking: numbered ``-run_id``, no model file."""
    details = ModelDetails(cold_start=True, features=feats.kind, run_id=run_id)
    return ModelVersion(
        project_id=snap.project_id,
        version=-run_id,
        n_labels=len(snap.labeled),
        metrics=None,
        strategy="cold_start",
        path="",
        sha256="",
        sklearn_version=artifacts.SKLEARN_VERSION,
        details=details.stored(),
    )


def publish(db: Database, run_id: int, version: ModelVersion, ranking: Ranking) -> None:
    """Make ``version`` and its ranking the published ones, in one transaction (the items
    deleted since the ranking was computed are left out)."""
    with db.writer() as session, session.begin():
        run = session.get_one(TrainingRun, run_id)
        if run.status != RunStatus.RUNNING:  # declared lost meanwhile: its successor publishes
            raise RuntimeError(f"run {run_id} is {run.status}, not publishing")
        previous = session.scalar(
            select(Project.current_model_id).where(Project.id == version.project_id)
        )
        if version.version is None:  # a model; cold-start rankings come numbered (-run_id)
            version.version = 1 + (
                session.scalar(
                    select(func.max(ModelVersion.version)).where(
                        ModelVersion.project_id == version.project_id, ModelVersion.version > 0
                    )
                )
                or 0
            )
        session.add(version)
        session.flush()
        _insert_ranking(session, version.id, ranking)
        keep = [v for v in (version.id, previous) if v is not None]
        session.execute(
            delete(RankEntry).where(
                RankEntry.model_version_id.in_(
                    select(ModelVersion.id).where(
                        ModelVersion.project_id == version.project_id,
                        ModelVersion.id.not_in(keep),
                    )
                )
            )
        )
        # The switch itself, last, so the project row is locked only for the commit.
        session.execute(
            update(Project)
            .where(Project.id == version.project_id)
            .values(current_model_id=version.id)
        )
        run.model_version_id = version.id


def _insert_ranking(session: Session, version_id: int, ranking: Ranking) -> None:
    """The ranking's rows, but for items deleted since it was computed (the others keep their
    ranks, so the warm-up's leading picks stay where the run put them)."""
    rows = removal.present(session, _rank_rows(version_id, ranking))
    if rows:
        session.execute(RankEntry.__table__.insert(), rows)


def _rank_rows(version_id: int, ranking: Ranking) -> list[dict[str, Any]]:
    return [
        {
            "model_version_id": version_id,
            "rank": rank,
            "item_id": int(item_id),
            "score": float(score),
            "prediction": prediction,
        }
        for rank, (item_id, score, prediction) in enumerate(
            zip(ranking.item_ids, ranking.scores, ranking.predictions, strict=True)
        )
    ]
