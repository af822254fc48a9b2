"""The audit sample after a real training run: measured on, never trained on, reported by
``GET /model`` beside the cross-validated figures, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.config import Settings
from app.db import Database
from app.models import Annotation, Item, Project, RunStatus
from tests.factories import TOPICS, auth, create_project, create_user, queue_and_work

N_ITEMS, N_LABELED = 90, 60
AUDITED = range(0, N_LABELED, 4)  # every 4th labelled row: 15 audit items


def mark_audit(db: Database, project: Project, rows: range, *, relabel: bool = False) -> None:
    """Mark the items of ``rows`` as audit items; ``relabel`` gives each a wrong label."""
    labels = list(TOPICS)
    with db.writer() as session, session.begin():
        ids = list(
            session.scalars(
                select(Item.id).where(
                    Item.project_id == project.id,
                    Item.external_id.in_([f"t{i}" for i in rows]),
                )
            )
        )
        session.execute(update(Item).where(Item.id.in_(ids)).values(audit=True))
        if not relabel:
            return
        for annotation in session.scalars(select(Annotation).where(Annotation.item_id.in_(ids))):
            wrong = labels[(labels.index(annotation.labels[0]) + 1) % 3]
            annotation.labels = [wrong]


def _model(client: TestClient, db: Database, project: Project) -> dict[str, object]:
    _, token = create_user(db, name=f"admin{project.id}")
    answer = client.get(f"/api/v1/projects/{project.id}/model", headers=auth(token))
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_audit_items_are_measured_on_and_left_out_of_training(
    client: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=N_ITEMS, n_labeled=N_LABELED)
    mark_audit(db, project, AUDITED)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.n_labels == N_LABELED - len(AUDITED)
    assert "audit" in run.timings
    body = _model(client, db, project)
    assert body["n_labels"] == N_LABELED - len(AUDITED)
    audit = body["audit"]
    assert isinstance(audit, dict)
    assert audit["n"] == len(AUDITED)
    assert audit["accuracy"] >= 0.8  # three well-separated topics
    assert audit["accuracy_low"] <= audit["accuracy"] <= audit["accuracy_high"] <= 1.0
    if audit["accuracy"] == 1.0:  # every resample scores 1.0: no interval to give
        assert audit["macro_f1_low"] is None and audit["macro_f1_high"] is None
    else:
        assert audit["macro_f1_low"] <= audit["macro_f1"] <= audit["macro_f1_high"] <= 1.0
    metrics = body["metrics"]
    assert isinstance(metrics, dict) and set(metrics) == {"accuracy", "macro_f1"}
    stopping = body["stopping"]
    assert isinstance(stopping, dict)
    assert stopping["message"] == (
        "predictions are still changing; audit accuracy "
        f"{audit['accuracy']:.3f} (95 % interval {audit['accuracy_low']:.3f}"
        f"–{audit['accuracy_high']:.3f}, n = {len(AUDITED)})"
    )


def test_wrong_audit_labels_lower_the_audit_figure_but_teach_the_model_nothing(
    client: TestClient, db: Database, settings: Settings
) -> None:
    """Were the audit labels trained on, the model would fit them; left out, a wrong audit
    label is a miss every time, while the cross-validated figure stays high."""
    project = create_project(db, n_items=N_ITEMS, n_labeled=N_LABELED)
    mark_audit(db, project, AUDITED, relabel=True)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    body = _model(client, db, project)
    audit, metrics = body["audit"], body["metrics"]
    assert isinstance(audit, dict) and isinstance(metrics, dict)
    assert audit["n"] == len(AUDITED)
    assert audit["accuracy"] <= 0.2
    assert metrics["accuracy"] >= 0.8


def test_a_project_without_audit_labels_reports_null(
    client: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=N_ITEMS, n_labeled=30)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    body = _model(client, db, project)
    assert body["audit"] is None
    assert body["metrics"] is not None
    stopping = body["stopping"]
    assert isinstance(stopping, dict) and stopping["message"] == "predictions are still changing"
    before = _model(client, db, create_project(db, name="empty"))
    assert before["audit"] is None and before["metrics"] is None


def test_audit_figures_stand_alone_when_too_few_labels_to_cross_validate(
    client: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=30, n_labeled=6)
    mark_audit(db, project, range(3, 6))  # three labels to train on: too few folds
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    body = _model(client, db, project)
    assert body["metrics"] is None
    audit = body["audit"]
    assert isinstance(audit, dict) and audit["n"] == 3
    assert audit["macro_f1_low"] is None and audit["macro_f1_high"] is None  # too few for one
    assert audit["accuracy_low"] < audit["accuracy_high"]  # Wilson's, wide at n = 3
