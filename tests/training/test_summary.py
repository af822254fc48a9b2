"""What both surfaces show of a project's model (``app.training.summary``)."""

from __future__ import annotations

from sqlalchemy import update

from app.db import Database
from app.models import ModelVersion, Project
from app.training import summary
from app.training.service import queue_run
from tests.factories import create_project


def _version(project_id: int, version: int, *, kappa: float | None, f1: float) -> ModelVersion:
    return ModelVersion(
        project_id=project_id,
        version=version,
        n_labels=10 * max(version, 1),
        metrics={"macro_f1": f1},
        strategy="margin",
        path=f"model-{version}.joblib",
        sha256="0" * 64,
        sklearn_version="1",
        details={} if kappa is None else {"kappa": kappa},
    )


def _with_versions(db: Database, versions: list[tuple[int, float | None, float]]) -> int:
    project = create_project(db, name="summary")
    with db.writer() as session, session.begin():
        session.add_all(_version(project.id, v, kappa=k, f1=f1) for v, k, f1 in versions)
    return project.id


def test_labels_until_retrain_counts_down_from_the_last_trigger(db: Database) -> None:
    project = create_project(db, batch_size=10)
    with db.writer() as session, session.begin():
        session.execute(update(Project).where(Project.id == project.id).values(label_events=14))
        assert summary.labels_until_retrain(session, session.get_one(Project, project.id)) == 0
        queue_run(session, project.id, reason="labels", trigger_events=8)
        assert summary.labels_until_retrain(session, session.get_one(Project, project.id)) == 4


def test_stopping_without_a_model(db: Database) -> None:
    project = create_project(db)
    with db.reader() as session:
        stop = summary.stopping(session, project.id)
    assert (stop.kappa, stop.kappa_history, stop.stabilised) == (None, [], False)
    assert stop.message == "no model yet"


def test_stopping_reads_the_last_models_kappa_and_metric(db: Database) -> None:
    project_id = _with_versions(
        db, [(0, None, 0.0), (1, None, 0.8), (2, 0.999, 0.8), (3, 0.999, 0.8), (4, 0.999, 0.8)]
    )
    with db.reader() as session:
        stop = summary.stopping(session, project_id)
    assert stop.kappa_history == [None, 0.999, 0.999, 0.999]  # the last 4; no cold start
    assert stop.metric_history == [0.8, 0.8, 0.8, 0.8]
    assert stop.stabilised and stop.message == "predictions have stabilised"


def test_stopping_while_predictions_still_change(db: Database) -> None:
    project_id = _with_versions(db, [(1, None, 0.5), (2, 0.7, 0.6)])
    with db.reader() as session:
        stop = summary.stopping(session, project_id)
    assert stop.kappa == 0.7 and not stop.stabilised
    assert stop.message == "predictions are still changing"


def test_published_versions_leave_out_cold_start_rankings(db: Database) -> None:
    project_id = _with_versions(db, [(2, 0.9, 0.7), (0, None, 0.0), (1, None, 0.5)])
    with db.reader() as session:
        versions = summary.published_versions(session, project_id)
    assert [v.version for v in versions] == [1, 2]
