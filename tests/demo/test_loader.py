"""The demo project holds what the README says it holds."""

from __future__ import annotations

import csv
import re

from app.db import Database
from app.demo.loader import DEMO_FILE, SEED_LABELS, load_demo
from app.projects.service import counts
from tests.server import ROOT


def test_the_demo_project_has_as_many_texts_as_the_readme_says(db: Database) -> None:
    with DEMO_FILE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with db.writer() as session, session.begin():
        project, created = load_demo(session)
        assert created
        shown = counts(session, project)  # what the dashboard and the API report
    # one text appears twice in the file; identical texts are stored once per project
    assert shown.n_items == len({row["text"] for row in rows}) == len(rows) - 1
    assert shown.n_labeled == SEED_LABELS
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"The demo project is a ([\d,]+)-text, (\d+)-intent subset", readme)
    assert match, "the README should describe the demo project"
    assert int(match.group(1).replace(",", "")) == shown.n_items
    assert int(match.group(2)) == len(project.labels)
