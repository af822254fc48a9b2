"""Keyword-only builders for test data, going through the real services."""

from __future__ import annotations

import io
import json

from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.items.service import ImportOptions, import_records
from app.models import Project, TrainingRun, User
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


def create_user(db: Database, *, name: str = "admin", role: str = "admin") -> tuple[User, str]:
    with db.writer() as session, session.begin():
        user, token = _create_user(session, name=name, role=role)
    return user, token


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
) -> Project:
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
            ),
        )
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


def import_jsonl(session: Session, project: Project, rows: list[dict[str, object]]) -> None:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    import_records(session, project, io.BytesIO(data), ImportOptions(filename="rows.jsonl"))


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
