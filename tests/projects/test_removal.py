"""Deleting a project: every row and file of it goes, nothing of another project does."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.models import AuditEvent, ModelVersion, Project, RankEntry, TrainingRun
from app.models.base import Base
from app.scheduler.worker import Worker
from app.training import service as training
from tests.factories import auth, create_project, create_user, queue_and_work


def _rows_of(db: Database, project_id: int) -> dict[str, int]:
    """Rows per table that name the project (tables with a ``project_id`` column)."""
    found = {}
    with db.reader() as session:
        for table in Base.metadata.sorted_tables:
            if "project_id" in table.c and table.name != "audit_events":
                n = session.scalar(
                    select(func.count()).select_from(table).where(table.c.project_id == project_id)
                )
                found[table.name] = n or 0
    return found


def test_delete_removes_rows_and_files_and_keeps_other_projects(
    client: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=40, n_labeled=20)
    other = create_project(db, name="kept", n_items=40, n_labeled=20)
    queue_and_work(db, settings, project)
    queue_and_work(db, settings, other)
    _, admin = create_user(db, name="ada", role="admin")
    features = settings.project_dir(project.id) / "features"
    assert {p.name for p in features.glob("pool-1-*.bin")} == {
        "pool-1-data.bin",
        "pool-1-indices.bin",
        "pool-1-indptr.bin",
    }  # the stored pool matrix lives in the project's folder
    assert sum(_rows_of(db, project.id).values()) > 60
    kept_rows = _rows_of(db, other.id)

    response = client.delete(f"/api/v1/projects/{project.id}", headers=auth(admin))
    assert response.status_code == 204, response.text

    assert client.get(f"/api/v1/projects/{project.id}", headers=auth(admin)).status_code == 404
    assert _rows_of(db, project.id) == dict.fromkeys(kept_rows, 0)
    assert not settings.project_dir(project.id).exists()
    assert _rows_of(db, other.id) == kept_rows
    assert settings.project_dir(other.id).is_dir()
    with db.reader() as session:
        ranked = select(func.count()).select_from(RankEntry)
        of_other = ranked.join(ModelVersion).where(ModelVersion.project_id == other.id)
        assert session.scalar(ranked) == session.scalar(of_other) > 0
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None and event.action == "project.delete"
        assert (event.target, event.detail) == ("topics", {"items": 40, "labelled": 20})
    again = client.delete(f"/api/v1/projects/{project.id}", headers=auth(admin))
    assert again.status_code == 404


def test_a_run_queued_before_the_delete_is_dropped_by_the_worker(
    client: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=30, n_labeled=20)
    _, admin = create_user(db, name="ada", role="admin")
    with db.writer() as session, session.begin():
        training.queue_run(session, project.id, reason="manual")
    assert client.delete(f"/api/v1/projects/{project.id}", headers=auth(admin)).status_code == 204
    Worker(db, settings).run_once()  # nothing to run, nothing raised
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(TrainingRun)) == 0
        assert session.scalar(select(func.count()).select_from(Project)) == 0
    assert not settings.project_dir(project.id).exists()


def test_annotators_may_not_delete(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, annotator = create_user(db, name="bo", role="annotator")
    response = client.delete(f"/api/v1/projects/{project.id}", headers=auth(annotator))
    assert response.status_code == 403
    with db.reader() as session:
        assert session.get(Project, project.id) is not None
