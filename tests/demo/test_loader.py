"""The demo projects hold what the README and NOTICE say they hold, and load once."""

from __future__ import annotations

import csv
import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.cli import DEMO_TASKS
from app.db import Database
from app.demo.loader import (
    DEMO_FILE,
    DEMOS,
    SEED_LABELS,
    TRANSLATION_SEED,
    load_demo,
    translation_rows,
)
from app.models import Annotation, Item
from app.projects.service import counts
from app.projects.shape import DEFAULT_LABELS, TRANSLATION_REVIEW
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


def test_the_translation_pairs_are_what_the_notice_says() -> None:
    rows = translation_rows()
    assert len(rows) == len({r["id"] for r in rows}) == 139
    by_label = Counter(r["label"] for r in rows)
    assert by_label == {"ok": 69} | {label: 14 for label in DEFAULT_LABELS[TRANSLATION_REVIEW][1:]}
    for row in rows:  # a correction exactly for the wrong ones, and it changes the translation
        assert (row["correction"] is None) == (row["label"] == "ok"), row["id"]
        assert row["correction"] != row["translation"], row["id"]
    seeds = Counter(r["label"] for r in rows[:TRANSLATION_SEED])
    assert set(seeds) == set(DEFAULT_LABELS[TRANSLATION_REVIEW]), "the seed set has every label"


def test_the_translation_demo_shows_pairs_side_by_side_with_seed_corrections(
    db: Database,
) -> None:
    rows = translation_rows()
    with db.writer() as session, session.begin():
        project, created = load_demo(session, task=TRANSLATION_REVIEW)
        assert created
        assert (project.task, project.item_fields, project.primary_field, project.layout) == (
            TRANSLATION_REVIEW,
            ["source", "translation"],
            "translation",
            "side_by_side",
        )
        assert project.labels == DEFAULT_LABELS[TRANSLATION_REVIEW]
        shown = counts(session, project)
        items = session.scalars(select(Item).where(Item.project_id == project.id)).all()
        labelled = session.execute(
            select(Item.external_id, Annotation.labels, Annotation.correction)
            .join(Annotation, Annotation.item_id == Item.id)
            .where(Item.project_id == project.id)
        ).all()
    assert shown.n_items == len(rows) and shown.n_labeled == TRANSLATION_SEED
    fields = {item.external_id: item.fields for item in items}
    assert fields == {
        r["id"]: {"source": r["source"], "translation": r["translation"]} for r in rows
    }
    expected = {r["id"]: ([r["label"]], r["correction"]) for r in rows[:TRANSLATION_SEED]}
    assert {ext: (labels, correction) for ext, labels, correction in labelled} == expected


@pytest.mark.parametrize("task", sorted(DEMOS))
def test_loading_a_demo_twice_changes_nothing_the_second_time(db: Database, task: str) -> None:
    with db.writer() as session, session.begin():
        first, created = load_demo(session, task=task)
        assert created
    with db.writer() as session, session.begin():
        before = counts(session, first)
        again, created = load_demo(session, task=task)
        assert not created and again.id == first.id
        assert counts(session, again) == before
        n_items = session.scalar(select(func.count()).select_from(Item))
        assert n_items == before.n_items  # no second project's items either


def test_the_command_offers_every_demo() -> None:
    assert set(DEMO_TASKS) == set(DEMOS)
