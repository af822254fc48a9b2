"""A project with overlap 2, two annotators and a reviewer, for the review tests; and an item of
a task shape (translation review, sentence selection) put in review by two labels."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.annotations.service import NO_DOUBT, Doubt, submit
from app.audit.service import CLI
from app.db import Database
from app.models import Item, LabelIssue, Project, User
from app.projects.schemas import ProjectUpdate
from app.projects.service import update_project
from tests.factories import add_member, create_project, create_user


@dataclass
class Team:
    project: Project
    items: list[int]
    ann1: User
    ann2: User
    reviewer: User
    tokens: dict[str, str]


@pytest.fixture
def team(db: Database) -> Team:
    tokens = {}
    users = {}
    for name in ("ann1", "ann2", "rev"):
        users[name], tokens[name] = create_user(
            db, name=name, role="annotator", password=f"{name}-password"
        )
    project = create_project(db, n_items=8, batch_size=50)
    add_member(db, project, users["rev"], "reviewer")
    with db.writer() as session, session.begin():
        stored = session.get_one(Project, project.id)
        update_project(session, stored, ProjectUpdate(overlap=2), actor=CLI)
        items = list(
            session.scalars(select(Item.id).where(Item.project_id == project.id).order_by(Item.id))
        )
    return Team(project, items, users["ann1"], users["ann2"], users["rev"], tokens)


def label(
    db: Database, team: Team, user: User, item_id: int, value: str, doubt: Doubt = NO_DOUBT
) -> None:
    with db.writer() as session, session.begin():
        project = session.get_one(Project, team.project.id)
        submit(session, project, user, item_id=item_id, labels=[value], doubt=doubt)


def suspicious(db: Database, team: Team, item_id: int, rank: int, suggested: str) -> None:
    with db.writer() as session, session.begin():
        session.add(
            LabelIssue(
                project_id=team.project.id,
                item_id=item_id,
                run_id=1,
                rank=rank,
                score=0.05,
                suggested=[suggested],
            )
        )


def standard_queue(db: Database, team: Team) -> None:
    """Item 0: a disagreement; 1: a consensus; 2: flagged by ann1; 3: a label the model
    doubts (rank 0); 4: one it barely doubts (rank 500, not in review)."""
    i = team.items
    label(db, team, team.ann1, i[0], "sports")
    label(db, team, team.ann2, i[0], "food")
    label(db, team, team.ann1, i[1], "weather")
    label(db, team, team.ann2, i[1], "weather")
    label(db, team, team.ann1, i[2], "food", Doubt("unsure", "bread or sport?"))
    label(db, team, team.ann1, i[3], "food")
    label(db, team, team.ann2, i[3], "food")
    suspicious(db, team, i[3], 0, "sports")
    label(db, team, team.ann1, i[4], "food")
    label(db, team, team.ann2, i[4], "food")
    suspicious(db, team, i[4], 500, "sports")


@dataclass
class Shaped:
    """A project of a task shape with one item in review, labelled by ann1 and ann2."""

    project: Project
    item_id: int
    tokens: dict[str, str]


def shaped_in_review(
    db: Database, project: Project, votes: dict[str, tuple[str, str | None]]
) -> Shaped:
    """``project``'s first item labelled by each of ``votes``' annotators (name: label and
    correction), with a reviewer; two labels that differ put it in review."""
    tokens = {}
    with db.reader() as session:
        first = session.scalars(
            select(Item.id).where(Item.project_id == project.id).order_by(Item.id).limit(1)
        ).one()
    for name in (*votes, "rev"):
        user, tokens[name] = create_user(db, name=name, role="annotator", projects=[project.id])
        if name == "rev":
            add_member(db, project, user, "reviewer")
            continue
        label, correction = votes[name]
        with db.writer() as session, session.begin():
            stored = session.get_one(Project, project.id)
            submit(session, stored, user, item_id=first, labels=[label], correction=correction)
    return Shaped(project, first, tokens)
