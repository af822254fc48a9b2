"""A project's agreement figures from its stored labels, on SQLite and PostgreSQL, and the
``GET /agreement`` endpoint."""

from __future__ import annotations

from datetime import timedelta

import krippendorff
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select, update

from app.annotations.agreement import NOT_ENOUGH, project_agreement
from app.annotations.service import submit
from app.db import Database
from app.models import Annotation, Item, Lease, ModelVersion, Project, RankEntry, User
from app.models.base import utcnow
from tests.factories import auth, create_project, create_user

LABELS = ["sports", "weather", "food"]
# Rows: annotators; columns: items 0..5 (None: not labelled by that annotator).
SHEET = {
    "ann1": ["sports", "sports", "weather", "food", "food", "weather"],
    "ann2": ["sports", "sports", "weather", "food", "weather", "weather"],
    "ann3": ["sports", "weather", "weather", "food", None, None],
}


def _label(db: Database, project: Project, sheet: dict[str, list[str | None]]) -> list[int]:
    """Store the sheet's labels as each annotator's; returns the project's item ids."""
    with db.writer() as session, session.begin():
        items = list(session.scalars(select(Item.id).where(Item.project_id == project.id)))
        rules = session.get_one(Project, project.id)
        for name, labels in sheet.items():
            user = session.scalar(select(User).where(User.name == name))
            for item_id, label in zip(items, labels, strict=False):
                if label is not None:
                    submit(session, rules, user, item_id=item_id, labels=[label])
    return items


def _annotators(db: Database, *names: str) -> None:
    for name in names:
        create_user(db, name=name, role="annotator")


def _codes(sheet: dict[str, list[str | None]]) -> np.ndarray:
    """The sheet as (items, annotators) label indices, NaN where unlabelled."""
    return np.array(
        [[np.nan if v is None else LABELS.index(v) for v in row] for row in sheet.values()]
    ).T


def test_figures_match_the_libraries_on_the_stored_labels(db: Database) -> None:
    project = create_project(db, n_items=8, labels=LABELS)
    _annotators(db, *SHEET)
    _label(db, project, SHEET)
    with db.reader() as session:
        out = project_agreement(session, session.get_one(Project, project.id))
    codes = _codes(SHEET)
    assert out.message is None and out.n_items == 6 and out.n_annotators == 3
    alpha = krippendorff.alpha(reliability_data=codes.T, level_of_measurement="nominal")
    assert out.overall.krippendorff_alpha.value == pytest.approx(alpha)
    pair = {(p.annotator_a, p.annotator_b): p for p in out.pairs}[("ann1", "ann2")]
    assert pair.n_items == 6
    assert pair.cohen_kappa == pytest.approx(cohen_kappa_score(codes[:, 0], codes[:, 1]))
    assert out.overall.fleiss_kappa.n_items == 4  # the items with the most common count (3)
    low, high = out.overall.krippendorff_alpha.ci_low, out.overall.krippendorff_alpha.ci_high
    assert low is not None and high is not None and low <= alpha <= high
    food = next(f for f in out.labels if f.label == "food")
    binary = np.where(np.isnan(codes), np.nan, codes == LABELS.index("food"))
    expected = krippendorff.alpha(reliability_data=binary.T, level_of_measurement="nominal")
    assert food.krippendorff_alpha.value == pytest.approx(expected)
    ann1 = next(a for a in out.annotators if a.annotator == "ann1")
    # The others' majority: items 0, 2, 3, 5 agree, 4 disagrees, 1 is a tie (left out).
    assert (ann1.consensus_agreement, ann1.consensus_n) == (pytest.approx(0.8), 5)
    assert ann1.n_labels == 6 and ann1.model_agreement is None and ann1.model_n == 0


def test_without_two_labels_on_an_item_the_figures_are_null(db: Database) -> None:
    project = create_project(db, n_items=4, labels=LABELS)
    _annotators(db, "solo")
    _label(db, project, {"solo": ["sports", "food", "food"]})
    with db.reader() as session:
        out = project_agreement(session, session.get_one(Project, project.id))
    assert out.n_items == 0 and out.message == NOT_ENOUGH and out.pairs == []
    for figure in (out.overall, *out.labels):
        assert figure.cohen_kappa.value is None and figure.krippendorff_alpha.n_items == 0
    assert out.annotators[0].n_labels == 3 and out.annotators[0].consensus_n == 0


def test_multi_label_units_are_item_and_label(db: Database) -> None:
    project = create_project(db, n_items=4, labels=LABELS, multi_label=True)
    _annotators(db, "a", "b")
    with db.writer() as session, session.begin():
        items = list(session.scalars(select(Item.id).where(Item.project_id == project.id)))
        rules = session.get_one(Project, project.id)
        a, b = (session.scalar(select(User).where(User.name == n)) for n in "ab")
        for user, sets in ((a, [["sports"], ["food", "weather"]]), (b, [["sports"], ["food"]])):
            for item_id, labels in zip(items, sets, strict=False):
                submit(session, rules, user, item_id=item_id, labels=labels)
    with db.reader() as session:
        out = project_agreement(session, session.get_one(Project, project.id))
    assert out.n_items == 2 and out.overall.krippendorff_alpha.n_items == 2
    # 6 present/absent units, one disagreement (weather on the second item).
    units = np.array([[1, 0, 0, 0, 1, 1], [1, 0, 0, 0, 0, 1]])
    expected = krippendorff.alpha(reliability_data=units, level_of_measurement="nominal")
    assert out.overall.krippendorff_alpha.value == pytest.approx(expected)
    weather = next(f for f in out.labels if f.label == "weather")
    assert weather.cohen_kappa.n_items == 2


def test_pace_skips_and_model_agreement(db: Database) -> None:
    project = create_project(db, n_items=8, labels=LABELS)
    _annotators(db, *SHEET)
    items = _label(db, project, SHEET)
    start = utcnow() - timedelta(hours=2)
    with db.writer() as session, session.begin():
        ann1 = session.scalar(select(User.id).where(User.name == "ann1"))
        ann3 = session.scalar(select(User.id).where(User.name == "ann3"))
        for k, item_id in enumerate(items[:6]):  # 30 s apart, with a one-hour break before #5
            moment = start + timedelta(seconds=30 * k + (3600 if k >= 4 else 0))
            session.execute(
                update(Annotation)
                .where(Annotation.item_id == item_id, Annotation.user_id == ann1)
                .values(created_at=moment)
            )
        session.add(
            Lease(
                item_id=items[7],
                project_id=project.id,
                user_id=ann3,
                skipped=True,
                expires_at=utcnow(),
            )
        )
        _publish(session, project.id, {items[0]: "sports", items[1]: "weather", items[4]: "food"})
    with db.reader() as session:
        out = project_agreement(session, session.get_one(Project, project.id))
    by_name = {a.annotator: a for a in out.annotators}
    assert by_name["ann1"].labels_per_hour == pytest.approx(4 * 3600 / 120)
    assert by_name["ann1"].median_seconds_between_labels == pytest.approx(30)
    assert by_name["ann3"].skips == 1 and by_name["ann1"].skips == 0
    # ann1 labelled the three predicted items sports, sports, food: two of three agree.
    assert (by_name["ann1"].model_agreement, by_name["ann1"].model_n) == (pytest.approx(2 / 3), 3)


def _publish(session, project_id: int, predictions: dict[int, str]) -> None:  # noqa: ANN001
    version = ModelVersion(
        project_id=project_id,
        version=1,
        n_labels=6,
        metrics=None,
        strategy="margin",
        path="",
        sha256="",
        sklearn_version="test",
    )
    session.add(version)
    session.flush()
    for rank, (item_id, label) in enumerate(predictions.items()):
        session.add(
            RankEntry(
                model_version_id=version.id,
                rank=rank,
                item_id=item_id,
                score=0.5,
                prediction={"label": label, "probabilities": {}},
            )
        )
    session.execute(
        update(Project).where(Project.id == project_id).values(current_model_id=version.id)
    )


def test_endpoint_serves_the_figures(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=8, labels=LABELS)
    _annotators(db, *SHEET)
    _label(db, project, SHEET)
    _, token = create_user(db, name="boss", role="admin")
    response = client.get(f"/api/v1/projects/{project.id}/agreement", headers=auth(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["n_items"] == 6 and body["resamples"] == 1000
    assert {a["annotator"] for a in body["annotators"]} == set(SHEET)
    assert [f["label"] for f in body["labels"]] == LABELS
    missing = client.get("/api/v1/projects/999999/agreement", headers=auth(token))
    assert missing.status_code == 404
