"""Keyword-only builders for test data, going through the real services.

Membership: unless told otherwise, the factories build what an instance upgraded from before
project membership has (revision 0008): every user who is not an instance admin is an
``annotator`` member of every project, whichever was made first. Tests about who may see what
pass ``projects=()`` / ``members={}`` and add memberships with :func:`add_member`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.items.service import ImportOptions, import_records
from app.models import (
    ModelVersion,
    Oracle,
    Project,
    ProjectMember,
    ProjectRole,
    TrainingRun,
    User,
)
from app.projects.members import join
from app.projects.schemas import ProjectCreate
from app.projects.service import create_project as _create_project
from app.users.service import create_user as _create_user

TOPICS = {
    "sports": [
        "the team won the match",
        "a great goal in the final",
        "the coach praised players",
        "fans cheered at the stadium",
        "the striker scored twice",
    ],
    "weather": [
        "heavy rain expected tomorrow",
        "a sunny and warm afternoon",
        "snow fell overnight",
        "strong winds and storms",
        "the forecast says clouds",
    ],
    "food": [
        "the pasta was delicious",
        "a recipe for apple pie",
        "fresh bread from the bakery",
        "spicy curry with rice",
        "the chef cooked soup",
    ],
}


EVERYONE: Literal["everyone"] = "everyone"


def create_user(
    db: Database,
    *,
    name: str = "admin",
    role: str = "admin",
    password: str | None = None,
    projects: Literal["everyone"] | Iterable[int] = EVERYONE,
) -> tuple[User, str]:
    """A user and their API token (API-only without ``password``); a non-admin joins
    ``projects`` (ids; default every existing project) as annotator."""
    with db.writer() as session, session.begin():
        user, token = _create_user(session, name=name, role=role, password=password)
        if not user.is_admin:
            ids = session.scalars(select(Project.id)) if projects == EVERYONE else projects
            for project_id in list(ids):
                join(session, session.get_one(Project, project_id), user, ProjectRole.ANNOTATOR)
    return user, token


def add_member(db: Database, project: Project | int, user: User | int, role: str) -> None:
    """Make ``user`` a member of ``project`` with ``role``, or change their role."""
    project_id = project if isinstance(project, int) else project.id
    user_id = user if isinstance(user, int) else user.id
    with db.writer() as session, session.begin():
        member = session.scalar(
            select(ProjectMember).where(
                ProjectMember.project_id == project_id, ProjectMember.user_id == user_id
            )
        )
        if member is None:
            session.add(ProjectMember(project_id=project_id, user_id=user_id, role=role))
        else:
            member.role = role


def topic_texts(n: int) -> list[tuple[str, str]]:
    """``n`` distinct (text, label) pairs over three topics."""
    out = []
    labels = list(TOPICS)
    for i in range(n):
        label = labels[i % 3]
        phrase = TOPICS[label][(i // 3) % 5]
        out.append((f"{phrase} number {i}", label))
    return out


def create_project(
    db: Database,
    *,
    name: str = "topics",
    labels: list[str] | None = None,
    n_items: int = 0,
    n_labeled: int = 0,
    multi_label: bool = False,
    strategy: str = "margin",
    batch_size: int = 10,
    features: str = "tfidf",
    diversity: bool = False,
    warm_up: float = 0.0,
    overlap: int = 1,
    audit_share: float = 0.0,
    recheck_share: float = 0.0,
    members: Literal["everyone"] | Mapping[int, str] = EVERYONE,
) -> Project:
    """A project; ``members`` maps user ids to project roles (default: every user who is not
    an instance admin, as annotator). No audit sample unless asked for: most tests count
    what the model trains on."""
    with db.writer() as session, session.begin():
        project = _create_project(
            session,
            ProjectCreate(
                name=name,
                labels=labels or list(TOPICS),
                multi_label=multi_label,
                strategy=strategy,
                batch_size=batch_size,
                features=features,
                diversity=diversity,
                warm_up=warm_up,
                overlap=overlap,
                audit_share=audit_share,
                recheck_share=recheck_share,
            ),
        )
        _add_members(session, project, members)
        if n_items:
            import_jsonl(
                session,
                project,
                [
                    {"id": f"t{i}", "text": text, "label": label if i < n_labeled else None}
                    for i, (text, label) in enumerate(topic_texts(n_items))
                ],
            )
    return project


def _add_members(
    session: Session, project: Project, members: Literal["everyone"] | Mapping[int, str]
) -> None:
    if members == EVERYONE:
        others = session.scalars(select(User.id).where(User.role != "admin"))
        members = {user_id: ProjectRole.ANNOTATOR for user_id in others}
    for user_id, role in members.items():
        join(session, project, session.get_one(User, user_id), ProjectRole(role))


def import_jsonl(session: Session, project: Project, rows: list[dict[str, object]]) -> None:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    import_records(session, project, io.BytesIO(data), ImportOptions(filename="rows.jsonl"))


def import_counts(response: Any) -> dict[str, Any]:
    """An import's answer without its ``import_id`` (checked to be an id): the counts."""
    body = dict(response.json())
    assert isinstance(body.pop("import_id"), int)
    if body.get("documents") is None:  # sentence selection's count of documents
        body.pop("documents", None)
    return body


def create_oracle(
    db: Database, project_id: int, *, name: str, kind: str, config: dict[str, Any], **fields: Any
) -> int:
    """An oracle row of the project (enabled, one call at a time unless ``fields`` say
    otherwise, nothing used yet); returns its id."""
    row = {"enabled": True, "concurrency": 1, **fields}
    with db.writer() as session, session.begin():
        oracle = Oracle(
            project_id=project_id, name=name, kind=kind, config=config,
            calls_used=0, tokens_used=0, failures=0, **row,
        )  # fmt: skip
        session.add(oracle)
        session.flush()
        return oracle.id


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def queue_and_work(db: Database, settings: Settings, project: Project) -> TrainingRun:
    """Queue a manual run for ``project`` and execute it with a real worker, in this thread."""
    from app.scheduler.worker import Worker
    from app.training import service as training

    with db.writer() as session, session.begin():
        run_id = training.queue_run(session, project.id, reason="manual").id
    assert Worker(db, settings).run_once()
    with db.reader() as session:
        return session.get_one(TrainingRun, run_id)


def model_version(project: Project, *, n_labels: int = 0) -> ModelVersion:
    """An unsaved model version without a model file: what a run publishes with a ranking
    built by hand (``app.training.publish.publish`` numbers and saves it)."""
    return ModelVersion(
        project_id=project.id,
        n_labels=n_labels,
        metrics=None,
        strategy="margin",
        path="-",
        sha256="-",
        sklearn_version="-",
        details={},
    )
