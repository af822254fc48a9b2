"""The world of the authorisation tests: one app, database and set of users per backend."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.annotations.service import submit
from app.config import Settings
from app.db import Database
from app.models import Annotation, ImportJob, ImportStatus, Item, Project, ProjectMember, User
from app.models.base import Base
from app.scheduler.worker import Worker
from app.training import service as training
from app.users import service as users
from tests.factories import add_member, create_project

ANONYMOUS, OUTSIDER, ADMIN = "anonymous", "outsider", "admin"
ANNOTATOR, REVIEWER, MANAGER = "annotator", "reviewer", "manager"  # in the world's project
ROLES = (ANONYMOUS, OUTSIDER, ANNOTATOR, REVIEWER, MANAGER, ADMIN)
RANK = {role: rank for rank, role in enumerate(ROLES)}
MEMBERS = (ANNOTATOR, REVIEWER, MANAGER)
SESSION_COOKIE = "labelloop_session"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    """One app and its data per backend; each role has an API token and a browser session."""

    client: TestClient
    db: Database
    settings: Settings
    project_id: int
    item_ids: list[int]  # unlabelled items of the project
    victim_id: int  # a user whose password admins reset
    job_id: int  # a finished import job of the project
    other_id: int  # another project: the outsider manages it
    tokens: dict[str, str] = field(default_factory=dict)  # role -> API token
    cookies: dict[str, str] = field(default_factory=dict)  # role -> session cookie
    csrf: dict[str, str] = field(default_factory=dict)  # role -> that session's CSRF token
    serial: Iterator[int] = field(default_factory=itertools.count)
    sent: dict[str, object] = field(default_factory=dict)  # the path values of the last call

    def path_values(self) -> dict[str, object]:
        return {
            "project_id": self.project_id,
            "item_id": self.item_ids[0],
            "user_id": self.victim_id,
            "job_id": self.job_id,
            "token_id": 1,  # the first user's first token: refused calls never reach it
            "oracle_id": 1,  # refused calls never reach an oracle either
            "action": "disable",
            "fmt": "csv",
            "label": "food",
            "document_id": 1,  # refused calls never reach a document
        }


def add_user(db: Database, name: str, role: str, *, browser: bool = True) -> tuple[int, str]:
    """A user with an API token and, for ``browser`` (argon2 is slow), a password; ``role``
    is an instance role (admin, annotator): memberships are made by ``join_as``."""
    password = f"{name}-password" if browser else None
    with db.writer() as session, session.begin():
        user, token = users.create_user(session, name=name, role=role, password=password)
        return user.id, token


def instance_role(role: str) -> str:
    return ADMIN if role == ADMIN else "annotator"


def join_as(world: World, user_id: int, role: str) -> None:
    """Give a user of matrix role ``role`` their place: a member of the world's project with
    that role, or (the outsider) the manager of another project."""
    if role in MEMBERS:
        add_member(world.db, world.project_id, user_id, role)
    elif role == OUTSIDER:
        add_member(world.db, world.other_id, user_id, MANAGER)


def page_csrf(client: TestClient, path: str) -> str:
    page = client.get(path, follow_redirects=False)
    token = CSRF_INPUT.search(page.text)
    assert page.status_code == 200 and token, f"{path} should carry a CSRF token"
    return token.group(1)


def log_in(client: TestClient, name: str) -> str:
    """Sign ``name`` in through the form (``client`` keeps the cookie); returns the CSRF token."""
    form = {
        "username": name,
        "password": f"{name}-password",
        "csrf_token": page_csrf(client, "/login"),
    }
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    return page_csrf(client, "/account")


def _browser_session(client: TestClient, name: str | None) -> tuple[str, str]:
    """Sign ``name`` in (or stay anonymous); returns the session cookie and its CSRF token."""
    client.cookies.clear()
    csrf = page_csrf(client, "/login") if name is None else log_in(client, name)
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie, "the app should have set a session cookie"
    client.cookies.clear()
    return cookie, csrf


def _train(db: Database, settings: Settings, project_id: int) -> None:
    with db.writer() as session, session.begin():
        training.queue_run(session, project_id, reason="manual")
    assert Worker(db, settings).run_once()
    with db.reader() as session:
        assert session.get_one(Project, project_id).current_model_id is not None


def populate(client: TestClient, db: Database, settings: Settings) -> World:
    project = create_project(db, n_items=45, n_labeled=21)
    other = create_project(db, name="elsewhere", n_items=3)
    _train(db, settings, project.id)  # so predict answers 200
    with db.reader() as session:
        labelled = select(Annotation.item_id).where(Annotation.project_id == project.id)
        unlabelled = session.scalars(
            select(Item.id)
            .where(Item.project_id == project.id, Item.id.not_in(labelled))
            .order_by(Item.id)
        ).all()
    victim_id, _ = add_user(db, "victim", "annotator", browser=False)
    job_id = finished_job(db, project.id)
    world = World(client, db, settings, project.id, list(unlabelled), victim_id, job_id, other.id)
    for role in ROLES[1:]:
        for surface in ("api", "web"):
            user_id, token = add_user(db, f"{surface}-{role}", instance_role(role))
            join_as(world, user_id, role)
            if surface == "api":
                world.tokens[role] = token
            add_user(db, f"joiner-{surface}-{role}", "annotator", browser=False)  # to add
        world.cookies[role], world.csrf[role] = _browser_session(client, f"web-{role}")
        if role != OUTSIDER:
            _seed_label(world, role)  # so undo has something to withdraw
    world.cookies[ANONYMOUS], world.csrf[ANONYMOUS] = _browser_session(client, None)
    return world


def finished_job(db: Database, project_id: int) -> int:
    """A succeeded import job, as a background import leaves it."""
    with db.writer() as session, session.begin():
        job = ImportJob(
            project_id=project_id,
            status=ImportStatus.SUCCEEDED,
            filename="rows.csv",
            stored_name="gone.csv",
            format="csv",
            text_field="text",
            bytes_total=10,
            bytes_done=10,
            rows_done=1,
            imported=1,
            duplicates=0,
            labeled=0,
        )
        session.add(job)
        session.flush()
        return job.id


def _seed_label(world: World, role: str) -> None:
    with world.db.writer() as session, session.begin():
        user = users.get_by_name(session, f"web-{role}")
        assert user is not None
        project = session.get_one(Project, world.project_id)
        submit(session, project, user, item_id=world.item_ids[-1], labels=["food"])


def state_of(db: Database) -> tuple[object, ...]:
    """Row counts of every table, and the user, project and membership columns a refused call
    could change."""
    counts = [
        select(func.count()).select_from(t).scalar_subquery() for t in Base.metadata.sorted_tables
    ]
    members = select(ProjectMember.project_id, ProjectMember.user_id, ProjectMember.role)
    with db.reader() as session:
        return (
            tuple(session.execute(select(*counts)).one()),
            tuple(session.execute(members.order_by(ProjectMember.id))),
            tuple(
                session.execute(
                    select(
                        User.role, User.password_hash, User.disabled_at, User.deleted_at
                    ).order_by(User.id)
                )
            ),
            tuple(
                session.execute(
                    select(
                        Project.batch_size, Project.strategy, Project.settings, Project.label_events
                    ).order_by(Project.id)
                )
            ),
        )
