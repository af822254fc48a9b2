"""The demo project: a banking77 subset (CC-BY-4.0, see NOTICE.md), a small seed set labelled."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.items.service import ImportOptions, import_records
from app.models import Project
from app.projects.schemas import ProjectCreate
from app.projects.service import create_project
from app.training.service import queue_after_import

DEMO_FILE = Path(__file__).with_name("banking77_demo.csv")
DEMO_NAME = "Banking77 demo"
SEED_LABELS = 48


def load_demo(session: Session, *, seed: int = SEED_LABELS) -> tuple[Project, bool]:
    """Create the demo project unless it exists; returns it and whether it was created.

    The first ``seed`` rows keep their label (the seed set); the rest form the pool.
    """
    existing = session.scalar(select(Project).where(Project.name == DEMO_NAME))
    if existing is not None:
        return existing, False
    with DEMO_FILE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    labels = sorted({row["label"] for row in rows})
    project = create_project(
        session, ProjectCreate(name=DEMO_NAME, labels=labels, strategy="margin", batch_size=20)
    )
    lines = [
        json.dumps({"id": r["id"], "text": r["text"], "label": r["label"] if i < seed else None})
        for i, r in enumerate(rows)
    ]
    stream = io.BytesIO(("\n".join(lines) + "\n").encode("utf-8"))
    result = import_records(session, project, stream, ImportOptions(filename="demo.jsonl"))
    queue_after_import(session, project, imported=result.imported)
    return project, True
