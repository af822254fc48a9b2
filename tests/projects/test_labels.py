"""A project's label set through the API: add, rename, delete, merge."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.annotations.service import submit
from app.db import Database
from app.models import Adjudication, Annotation, AuditEvent, LabelTally, Project, TrainingRun
from tests.factories import auth, create_project, create_user


def _setup(db: Database, *, multi_label: bool = False) -> tuple[Project, str, list[int]]:
    project = create_project(db, n_items=6, n_labeled=3, multi_label=multi_label)
    _, admin = create_user(db, name="ada", role="admin")
    with db.reader() as session:
        labelled = sorted(
            session.scalars(select(Annotation.item_id).where(Annotation.project_id == project.id))
        )
    return project, admin, labelled


def _labels_of(db: Database, project: Project) -> tuple[list[str], dict[int, list[str]]]:
    with db.reader() as session:
        rows = session.execute(
            select(Annotation.id, Annotation.labels).where(Annotation.project_id == project.id)
        )
        return session.get_one(Project, project.id).labels, {i: labels for i, labels in rows}


def _tallies(db: Database, project: Project) -> dict[str, int]:
    with db.reader() as session:
        rows = session.execute(
            select(LabelTally.label, LabelTally.n).where(LabelTally.project_id == project.id)
        )
        return {label: n for label, n in rows if n}


def test_rename_follows_every_annotation_and_adjudication(client: TestClient, db: Database) -> None:
    project, admin, labelled = _setup(db)
    with db.writer() as session, session.begin():
        session.add(
            Adjudication(project_id=project.id, item_id=labelled[0], labels=["sports"], reason="x")
        )
    before_labels, before = _labels_of(db, project)
    url = f"/api/v1/projects/{project.id}/labels/sports"
    response = client.patch(url, json={"name": "sport & games"}, headers=auth(admin))
    assert response.status_code == 200, response.text
    assert response.json()["labels"] == [
        "sport & games" if x == "sports" else x for x in before_labels
    ]
    _, after = _labels_of(db, project)
    assert after == {
        i: ["sport & games" if x == "sports" else x for x in labels] for i, labels in before.items()
    }
    assert "sports" not in _tallies(db, project)
    with db.reader() as session:
        assert session.scalars(select(Adjudication.labels)).one() == ["sport & games"]
        assert session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == (
            "label.rename"
        )
        assert session.scalar(
            select(TrainingRun.status).where(TrainingRun.project_id == project.id)
        )


def test_rename_refuses_a_clash_in_any_case_and_changes_nothing(
    client: TestClient, db: Database
) -> None:
    project, admin, _ = _setup(db)
    before = _labels_of(db, project)
    url = f"/api/v1/projects/{project.id}/labels/sports"
    response = client.patch(url, json={"name": " Food "}, headers=auth(admin))
    assert response.status_code == 409
    assert "'food'" in response.json()["detail"]
    missing = client.patch(f"{url}-x", json={"name": "new"}, headers=auth(admin))
    assert missing.status_code == 404 and "sports-x" in missing.json()["detail"]
    assert _labels_of(db, project) == before


def test_delete_refuses_a_used_label_and_deletes_an_unused_one(
    client: TestClient, db: Database
) -> None:
    project, admin, _ = _setup(db)
    base = f"/api/v1/projects/{project.id}/labels"
    assert client.post(base, json={"name": "a/b"}, headers=auth(admin)).status_code == 201
    used = next(label for label in _tallies(db, project))
    refused = client.delete(f"{base}/{used}", headers=auth(admin))
    assert refused.status_code == 409 and "merge_into" in refused.json()["detail"]
    deleted = client.delete(f"{base}/a/b", headers=auth(admin))
    assert deleted.status_code == 200 and "a/b" not in deleted.json()["labels"]
    assert used in _labels_of(db, project)[0]


def test_merge_moves_the_annotations_and_keeps_one_label_per_item(
    client: TestClient, db: Database
) -> None:
    project, admin, labelled = _setup(db, multi_label=True)
    user, _ = create_user(db, name="bo", role="annotator")
    with db.writer() as session, session.begin():
        p = session.get_one(Project, project.id)
        submit(session, p, user, item_id=labelled[0], labels=["sports", "food"])
    url = f"/api/v1/projects/{project.id}/labels/sports"
    merged = client.delete(url, params={"merge_into": "food"}, headers=auth(admin))
    assert merged.status_code == 200, merged.text
    labels, rows = _labels_of(db, project)
    assert "sports" not in labels
    assert all("sports" not in x and len(x) == len(set(x)) for x in rows.values())
    assert ["food"] in rows.values()  # bo's ["sports", "food"] became one label
    bad = client.delete(
        f"/api/v1/projects/{project.id}/labels/food",
        params={"merge_into": "nope"},
        headers=auth(admin),
    )
    assert bad.status_code == 422 and "merge_into" in bad.json()["detail"]


def test_a_single_label_project_keeps_two_labels(client: TestClient, db: Database) -> None:
    project = create_project(db, labels=["yes", "no"])
    _, admin = create_user(db, name="ada", role="admin")
    response = client.delete(f"/api/v1/projects/{project.id}/labels/no", headers=auth(admin))
    assert response.status_code == 422 and "at least 2 labels" in response.json()["detail"]


def test_annotators_may_not_change_labels(client: TestClient, db: Database) -> None:
    project, _, _ = _setup(db)
    _, annotator = create_user(db, name="bo", role="annotator")
    before = _labels_of(db, project)
    url = f"/api/v1/projects/{project.id}/labels"
    assert client.post(url, json={"name": "x"}, headers=auth(annotator)).status_code == 403
    assert client.delete(f"{url}/food", headers=auth(annotator)).status_code == 403
    assert _labels_of(db, project) == before


def test_descriptions_follow_a_rename_and_go_with_a_deleted_label(
    client: TestClient, db: Database
) -> None:
    project, admin, _ = _setup(db)
    url, headers = f"/api/v1/projects/{project.id}", auth(admin)
    described = {"sports": "games and players", "food": "dishes and cooking"}
    assert client.patch(url, json={"label_descriptions": described}, headers=headers).is_success
    assert client.patch(f"{url}/labels/sports", json={"name": "sport"}, headers=headers).is_success
    after = {"sport": "games and players", "food": "dishes and cooking"}
    assert client.get(url, headers=headers).json()["label_descriptions"] == after
    assert client.post(f"{url}/labels", json={"name": "spare"}, headers=headers).is_success
    spare = {**after, "spare": "unused"}
    assert client.patch(url, json={"label_descriptions": spare}, headers=headers).is_success
    assert client.delete(f"{url}/labels/spare", headers=headers).is_success
    assert client.get(url, headers=headers).json()["label_descriptions"] == after
