"""R8: the authorisation matrix. Every registered route, called as each role: anonymous, an
outsider (signed in, a manager of another project, not a member of this one), an annotator,
reviewer and manager of the project, and an instance admin.

``ROUTES`` names the least role each route needs; the expected status of every (route, method,
role) follows from it (``expected``): the route's own status from that role up; below it, 401
(API) or a sign-in redirect (screens) for anonymous callers, 404 for an outsider on a project
route (the missing project's answer: no existence leak), 403 otherwise. A route the app
registers that is neither in ``ROUTES`` nor in ``PUBLIC`` (docs, schema, static files) fails
``test_every_route_is_classified``, so a new route cannot ship unclassified. Every refused
call is followed by a re-read of the database that must show nothing changed.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from app.annotations.service import submit
from app.config import Settings
from app.db import Database, open_database
from app.main import create_app
from app.models import (
    Annotation,
    Document,
    ImportJob,
    ImportStatus,
    Item,
    Project,
    ProjectMember,
    User,
)
from app.models.base import Base
from app.scheduler.worker import Worker
from app.training import service as training
from app.users import service as users
from app.users import tokens
from tests.conftest import BACKENDS, fresh_database
from tests.factories import add_member, auth, create_oracle, create_project, import_jsonl

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


Body = Callable[[World, str], dict[str, Any]]


def _nothing(world: World, role: str) -> dict[str, Any]:
    return {}


def _params(**params: object) -> Body:
    return lambda world, role: {"params": params}


def _new_project_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"api-{role}-{next(world.serial)}", "labels": ["a", "b"]}}


def _new_project_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"web-{role}-{next(world.serial)}", "labels": "a\nb"}}


def _patch_project(world: World, role: str) -> dict[str, Any]:
    return {"json": {"batch_size": 20 + RANK[role]}}  # a change, whoever sends it


def _settings_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"strategy": "entropy", "batch_size": str(30 + RANK[role])}}


def _rows(role: str, world: World) -> bytes:
    n = next(world.serial)
    return f'{{"text": "imported by {role}, file {n}", "label": "sports"}}\n'.encode()


def _upload(world: World, role: str) -> dict[str, Any]:
    return {"files": {"file": ("rows.jsonl", _rows(role, world), "application/json")}}


def _kept_upload(world: World, role: str) -> dict[str, Any]:
    """A file kept aside as the preview step would have kept it."""
    upload_id = f"{secrets.token_urlsafe(18)}.jsonl"
    uploads = world.settings.data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / upload_id).write_bytes(_rows(role, world))
    return {"data": {"upload_id": upload_id, "text_field": "text", "label_field": "label"}}


def _label_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"item_id": world.item_ids[0], "label": "sports"}}


def _bulk_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"annotations": [{"item_id": world.item_ids[0], "label": "sports"}]}}


def _label_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"item_id": str(world.item_ids[0]), "label": "sports", "have": ""}}


def _relabel_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"label": "food"}}


def _skip_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"item_id": str(world.item_ids[1])}}


def _adjudicate_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"label": "food", "note": f"decided by {role}"}}


def _adjudicate_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"label": "weather", "note": f"decided by {role}"}}


def _predict_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"texts": ["the striker scored a goal"]}}


def _credentials(world: World, role: str) -> dict[str, Any]:
    name = "web-annotator" if role == ANONYMOUS else f"web-{role}"
    return {"data": {"username": name, "password": f"{name}-password"}}


def _new_user_form(world: World, role: str) -> dict[str, Any]:
    name = f"made-by-{role}-{next(world.serial)}"
    return {"data": {"name": name, "password": "a-long-password", "role": "admin"}}


def _password_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"password": f"new-password-{next(world.serial)}"}}


def _new_user_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"api-made-by-{role}-{next(world.serial)}", "role": "annotator"}}


def _password_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"password": f"new-password-{next(world.serial)}"}}


def _own_password_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"current_password": "own-caller-password", "new_password": "a-new-password"}}


def _own_password_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"current_password": "own-caller-password", "new_password": "a-new-password"}}


def _mint_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"script-{next(world.serial)}", "password": f"api-{role}-password"}}


def _mint_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"script-{next(world.serial)}", "password": f"web-{role}-password"}}


def _role_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"role": "annotator"}}


def _new_member_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"user": f"joiner-api-{role}", "role": "reviewer"}}


PUBLIC_ORACLE = {"base_url": "http://1.1.1.1/v1", "model": "m"}  # an address literal: no DNS


def _new_oracle_json(world: World, role: str) -> dict[str, Any]:
    name = f"oracle-{role}-{next(world.serial)}"
    return {"json": {"name": name, "kind": "openai", "config": PUBLIC_ORACLE, "enabled": False}}


def _oracle_patch_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"budget_calls": 10 + RANK[role]}}


def _throwaway_oracle(world: World, role: str) -> dict[str, object]:
    """A disabled oracle of the world's project (never called: no worker runs)."""
    name = f"spare-{role}-{next(world.serial)}"
    oracle_id = create_oracle(
        world.db, world.project_id, name=name, kind="openai", config=PUBLIC_ORACLE, enabled=False
    )
    return {"oracle_id": oracle_id}


def _new_member_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"joiner-web-{role}", "role": "reviewer"}}


def _member_role_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"role": "manager"}}


def _member_role_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"role": "manager"}}


def _throwaway_member(world: World, role: str) -> dict[str, object]:
    user_id = _throwaway(world)
    add_member(world.db, world.project_id, user_id, "annotator")
    return {"user_id": user_id}


def _throwaway(world: World) -> int:
    return _add_user(world.db, f"gone-{next(world.serial)}", ANNOTATOR, browser=False)[0]


def _throwaway_user(world: World, role: str) -> dict[str, object]:
    return {"user_id": _throwaway(world), "action": "disable"}


def _token_of(world: World, user_name: str | None, user_id: int | None = None) -> int:
    with world.db.writer() as session, session.begin():
        user = session.get_one(User, user_id) if user_id else users.get_by_name(session, user_name)
        assert user is not None
        return tokens.create_token(session, user, name="to revoke")[0].id


def _own_token(prefix: str) -> Fresh:
    return lambda world, role: {"token_id": _token_of(world, f"{prefix}-{role}")}


def _victim_token(world: World, role: str) -> dict[str, object]:
    user_id = _throwaway(world)
    return {"user_id": user_id, "token_id": _token_of(world, None, user_id)}


def _throwaway_project(world: World, role: str) -> dict[str, object]:
    """A project with the world's members in their roles, to delete (``confirm``: its name,
    as the screen's confirmation types it)."""
    name = f"to-delete-{next(world.serial)}"
    project = create_project(world.db, name=name, members={})
    with world.db.reader() as session:
        for member, surface in itertools.product(MEMBERS, ("api", "web")):
            user = users.get_by_name(session, f"{surface}-{member}")
            assert user is not None
            add_member(world.db, project.id, user.id, member)
    return {"project_id": project.id, "confirm": name}


def _fresh_label(world: World, role: str) -> dict[str, object]:
    """A new, unused label of the world's project, to rename or delete."""
    name = f"extra/{role}-{next(world.serial)}"
    with world.db.writer() as session, session.begin():
        project = session.get_one(Project, world.project_id)
        project.labels = [*project.labels, name]
    return {"label": name}


def _new_item(world: World) -> int:
    n = next(world.serial)
    with world.db.writer() as session, session.begin():
        project = session.get_one(Project, world.project_id)
        import_jsonl(session, project, [{"text": f"an item to delete, number {n}"}])
        return session.scalars(select(Item.id).order_by(Item.id.desc())).first() or 0


def _fresh_document(world: World, role: str) -> dict[str, object]:
    """A document of the world's project, with one sentence item, to read."""
    n = next(world.serial)
    with world.db.writer() as session, session.begin():
        text = f"A document, number {n}."
        document = Document(
            project_id=world.project_id, text=text, text_hash=f"doc-{n}".encode(), n_sentences=1
        )
        session.add(document)
        session.flush()
        return {"document_id": document.id}


def _throwaway_item(world: World, role: str) -> dict[str, object]:
    return {"item_id": _new_item(world)}


def _throwaway_import(world: World, role: str) -> dict[str, object]:
    """A finished import of one new item, to undo."""
    item_id = _new_item(world)
    job_id = _finished_job(world.db, world.project_id)
    with world.db.writer() as session, session.begin():
        job = session.get_one(ImportJob, job_id)
        job.first_item_id = job.last_item_id = item_id
    return {"job_id": job_id}


def _delete_items_json(world: World, role: str) -> dict[str, Any]:
    """Allowed callers delete a new item; refused ones name the world's first item."""
    allowed = RANK[role] >= RANK[MANAGER]
    return {"json": {"ids": [_new_item(world) if allowed else world.item_ids[0]]}}


def _label_items_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"ids": [world.item_ids[0]], "labels": ["food"]}}


def _review_items_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"ids": [world.item_ids[0]]}}


def _review_items_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"ids": [world.item_ids[0]], "query": "status=all"}}


def _label_items_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"ids": [world.item_ids[0]], "label": "weather", "query": "status=all"}}


_FORM_ITEMS: dict[int, int] = {}  # id(world) -> the item the next allowed delete form names


def _stash_item(world: World, role: str) -> dict[str, object]:
    """A new item for an allowed delete from the items screen (the form names it)."""
    _FORM_ITEMS[id(world)] = _new_item(world)
    return {}


def _delete_items_form(world: World, role: str) -> dict[str, Any]:
    """Allowed calls delete the stashed new item; refused ones name the world's first."""
    return {"data": {"ids": [_FORM_ITEMS.pop(id(world), world.item_ids[0])]}}


def _label_name_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"named-by-{role}-{next(world.serial)}"}}


def _label_name_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"web-named-by-{role}-{next(world.serial)}"}}


def _label_rename_form(world: World, role: str) -> dict[str, Any]:
    """The label the call names (a fresh one when allowed) and a new name for it."""
    return {"data": {"label": world.sent["label"], "name": f"web-{next(world.serial)}"}}


def _label_delete_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"label": world.sent["label"]}}


def _rename_project_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"renamed-by-{role}-{next(world.serial)}"}}


def _confirm_form(world: World, role: str) -> dict[str, Any]:
    """The fresh project's name typed (refused calls: nothing typed)."""
    return {"data": {"confirm": world.sent.get("confirm", "")}}


def _guidelines_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"guidelines": f"written by {role}", "label": ["food"], "description": ["x"]}}


def _oracle_options_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"suggest_preselect": "true", "oracle_examples": str(RANK[role])}}


def _oracle_form(world: World, role: str) -> dict[str, Any]:
    """A new oracle on a public address literal (no DNS look-up)."""
    name = f"web-{role}-{next(world.serial)}"
    return {"data": {"name": name, "url": PUBLIC_ORACLE["base_url"], "model": "m"}}


def _oracle_id_form(world: World, role: str) -> dict[str, Any]:
    """The fresh oracle (refused calls: an id nobody has)."""
    return {"data": {"oracle_id": str(world.sent.get("oracle_id", 999_999))}}


Fresh = Callable[[World, str], dict[str, object]]


def _no_fresh(world: World, role: str) -> dict[str, object]:
    return {}


@dataclass(frozen=True)
class Rule:
    """The least role a route needs, the status it answers when allowed, and a valid body.

    ``fresh`` makes what an allowed call uses up (a user to delete, a token to revoke) and
    returns the path values that name it; ``own_caller`` calls as a new user of the role,
    for routes that end their caller's sessions (sign-out, a password change).
    """

    role: str  # the least role that may call it
    ok: int
    body: Body = _nothing
    fresh: Fresh = _no_fresh
    own_caller: bool = False


PROJECT = "/api/v1/projects/{project_id}"
ROUTES: dict[tuple[str, str], Rule] = {
    # JSON API: bearer token.
    ("POST", "/api/v1/projects"): Rule(ADMIN, 201, _new_project_json),
    ("GET", "/api/v1/projects"): Rule(OUTSIDER, 200),
    ("GET", PROJECT): Rule(ANNOTATOR, 200),
    ("PATCH", PROJECT): Rule(MANAGER, 200, _patch_project),
    ("DELETE", PROJECT): Rule(MANAGER, 204, fresh=_throwaway_project),
    ("POST", f"{PROJECT}/labels"): Rule(MANAGER, 201, _label_name_json),
    ("PATCH", f"{PROJECT}/labels/{{label:path}}"): Rule(
        MANAGER, 200, _label_name_json, fresh=_fresh_label
    ),
    ("DELETE", f"{PROJECT}/labels/{{label:path}}"): Rule(MANAGER, 200, fresh=_fresh_label),
    ("POST", f"{PROJECT}/imports"): Rule(MANAGER, 201, _upload),
    ("GET", f"{PROJECT}/imports/{{job_id}}"): Rule(MANAGER, 200),
    ("GET", f"{PROJECT}/imports"): Rule(MANAGER, 200),
    ("DELETE", f"{PROJECT}/imports/{{job_id}}"): Rule(MANAGER, 200, fresh=_throwaway_import),
    ("GET", f"{PROJECT}/export"): Rule(ANNOTATOR, 200, _params(format="jsonl")),
    ("GET", f"{PROJECT}/items"): Rule(ANNOTATOR, 200, _params(limit=5, status="unlabeled")),
    ("GET", f"{PROJECT}/queue"): Rule(ANNOTATOR, 200, _params(limit=2)),
    ("POST", f"{PROJECT}/annotations"): Rule(ANNOTATOR, 201, _label_json),
    ("POST", f"{PROJECT}/annotations/bulk"): Rule(ANNOTATOR, 200, _bulk_json),
    ("GET", f"{PROJECT}/model"): Rule(ANNOTATOR, 200),
    ("POST", f"{PROJECT}/predict"): Rule(ANNOTATOR, 200, _predict_json),
    ("POST", f"{PROJECT}/train"): Rule(MANAGER, 202),
    ("GET", f"{PROJECT}/runs"): Rule(ANNOTATOR, 200),
    ("GET", f"{PROJECT}/label-issues"): Rule(REVIEWER, 200),
    ("GET", f"{PROJECT}/items/{{item_id}}/history"): Rule(ANNOTATOR, 200),
    ("GET", f"{PROJECT}/documents/{{document_id}}"): Rule(ANNOTATOR, 200, fresh=_fresh_document),
    ("DELETE", f"{PROJECT}/items/{{item_id}}"): Rule(MANAGER, 204, fresh=_throwaway_item),
    ("POST", f"{PROJECT}/items/delete"): Rule(MANAGER, 200, _delete_items_json),
    ("POST", f"{PROJECT}/items/label"): Rule(REVIEWER, 200, _label_items_json),
    ("POST", f"{PROJECT}/items/review"): Rule(REVIEWER, 200, _review_items_json),
    ("GET", f"{PROJECT}/members"): Rule(MANAGER, 200),
    ("POST", f"{PROJECT}/members"): Rule(MANAGER, 201, _new_member_json),
    ("PATCH", f"{PROJECT}/members/{{user_id}}"): Rule(
        MANAGER, 200, _member_role_json, fresh=_throwaway_member
    ),
    ("DELETE", f"{PROJECT}/members/{{user_id}}"): Rule(MANAGER, 204, fresh=_throwaway_member),
    ("GET", f"{PROJECT}/agreement"): Rule(ANNOTATOR, 200),
    ("GET", f"{PROJECT}/oracles"): Rule(MANAGER, 200),
    ("POST", f"{PROJECT}/oracles"): Rule(MANAGER, 201, _new_oracle_json),
    ("PATCH", f"{PROJECT}/oracles/{{oracle_id}}"): Rule(
        MANAGER, 200, _oracle_patch_json, fresh=_throwaway_oracle
    ),
    ("DELETE", f"{PROJECT}/oracles/{{oracle_id}}"): Rule(MANAGER, 204, fresh=_throwaway_oracle),
    ("GET", f"{PROJECT}/oracles/{{oracle_id}}/stats"): Rule(
        ANNOTATOR, 200, fresh=_throwaway_oracle
    ),
    ("GET", f"{PROJECT}/review"): Rule(REVIEWER, 200),
    ("PUT", f"{PROJECT}/review/{{item_id}}"): Rule(REVIEWER, 200, _adjudicate_json),
    ("GET", "/api/v1/me"): Rule(OUTSIDER, 200),
    ("POST", "/api/v1/me/password"): Rule(OUTSIDER, 204, _own_password_json, own_caller=True),
    ("GET", "/api/v1/me/tokens"): Rule(OUTSIDER, 200),
    ("POST", "/api/v1/me/tokens"): Rule(OUTSIDER, 201, _mint_json),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): Rule(OUTSIDER, 204, fresh=_own_token("api")),
    ("GET", "/api/v1/users"): Rule(ADMIN, 200),
    ("POST", "/api/v1/users"): Rule(ADMIN, 201, _new_user_json),
    ("PATCH", "/api/v1/users/{user_id}"): Rule(ADMIN, 200, _role_json),
    ("POST", "/api/v1/users/{user_id}/password"): Rule(ADMIN, 204, _password_json),
    ("DELETE", "/api/v1/users/{user_id}"): Rule(ADMIN, 204, fresh=_throwaway_user),
    ("GET", "/api/v1/users/{user_id}/tokens"): Rule(ADMIN, 200),
    ("DELETE", "/api/v1/users/{user_id}/tokens/{token_id}"): Rule(ADMIN, 204, fresh=_victim_token),
    ("GET", "/api/v1/audit"): Rule(ADMIN, 200),
    # Browser: session cookie, and the session's CSRF token on every POST.
    ("GET", "/login"): Rule(ANONYMOUS, 200),
    ("POST", "/login"): Rule(ANONYMOUS, 303, _credentials),
    ("POST", "/logout"): Rule(ANONYMOUS, 303, own_caller=True),
    ("GET", "/"): Rule(OUTSIDER, 200),
    ("GET", "/projects/new"): Rule(ADMIN, 200),
    ("POST", "/projects"): Rule(ADMIN, 303, _new_project_form),
    ("GET", "/projects/{project_id}"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/live"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/agreement"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/review"): Rule(REVIEWER, 200),
    ("POST", "/projects/{project_id}/review/{item_id}"): Rule(REVIEWER, 200, _adjudicate_form),
    ("POST", "/projects/{project_id}/train"): Rule(MANAGER, 200),
    ("POST", "/projects/{project_id}/settings"): Rule(MANAGER, 200, _settings_form),
    ("GET", "/projects/{project_id}/settings"): Rule(MANAGER, 200),
    ("POST", "/projects/{project_id}/rename"): Rule(
        MANAGER, 303, _rename_project_form, fresh=_throwaway_project
    ),
    ("POST", "/projects/{project_id}/delete"): Rule(
        MANAGER, 303, _confirm_form, fresh=_throwaway_project
    ),
    ("POST", "/projects/{project_id}/labels"): Rule(MANAGER, 303, _label_name_form),
    ("POST", "/projects/{project_id}/labels/rename"): Rule(
        MANAGER, 303, _label_rename_form, fresh=_fresh_label
    ),
    ("POST", "/projects/{project_id}/labels/delete"): Rule(
        MANAGER, 303, _label_delete_form, fresh=_fresh_label
    ),
    ("POST", "/projects/{project_id}/imports/{job_id}/undo"): Rule(
        MANAGER, 303, fresh=_throwaway_import
    ),
    ("POST", "/projects/{project_id}/members"): Rule(MANAGER, 200, _new_member_form),
    ("POST", "/projects/{project_id}/members/{user_id}/role"): Rule(
        MANAGER, 200, _member_role_form, fresh=_throwaway_member
    ),
    ("POST", "/projects/{project_id}/members/{user_id}/remove"): Rule(
        MANAGER, 200, fresh=_throwaway_member
    ),
    ("POST", "/projects/{project_id}/guidelines"): Rule(MANAGER, 303, _guidelines_form),
    ("POST", "/projects/{project_id}/oracle-options"): Rule(MANAGER, 303, _oracle_options_form),
    ("POST", "/projects/{project_id}/oracles"): Rule(MANAGER, 303, _oracle_form),
    ("POST", "/projects/{project_id}/oracles/change"): Rule(
        MANAGER, 303, _oracle_id_form, fresh=_throwaway_oracle
    ),
    ("POST", "/projects/{project_id}/oracles/remove"): Rule(
        MANAGER, 303, _oracle_id_form, fresh=_throwaway_oracle
    ),
    ("GET", "/projects/{project_id}/oracles/panel"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/export.{fmt}"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/items"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/items/more"): Rule(ANNOTATOR, 200, _params(after=1)),
    ("GET", "/projects/{project_id}/items/{item_id}/history"): Rule(ANNOTATOR, 200),
    ("POST", "/projects/{project_id}/items/label"): Rule(REVIEWER, 303, _label_items_form),
    ("POST", "/projects/{project_id}/items/review"): Rule(REVIEWER, 303, _review_items_form),
    ("POST", "/projects/{project_id}/items/delete"): Rule(
        MANAGER, 303, _delete_items_form, fresh=_stash_item
    ),
    ("GET", "/projects/{project_id}/import"): Rule(MANAGER, 200),
    ("POST", "/projects/{project_id}/import/preview"): Rule(MANAGER, 200, _upload),
    ("POST", "/projects/{project_id}/import"): Rule(MANAGER, 200, _kept_upload),
    ("GET", "/projects/{project_id}/import/jobs/{job_id}"): Rule(MANAGER, 200),
    ("GET", "/projects/{project_id}/annotate"): Rule(ANNOTATOR, 200),
    ("POST", "/projects/{project_id}/annotate/submit"): Rule(ANNOTATOR, 200, _label_form),
    ("POST", "/projects/{project_id}/annotate/skip"): Rule(ANNOTATOR, 200, _skip_form),
    ("POST", "/projects/{project_id}/annotate/undo"): Rule(ANNOTATOR, 200),
    ("POST", "/projects/{project_id}/annotate/history/{item_id}"): Rule(
        ANNOTATOR, 200, _relabel_form
    ),
    ("GET", "/projects/{project_id}/annotate/progress"): Rule(ANNOTATOR, 200),
    ("GET", "/users"): Rule(ADMIN, 200),
    ("POST", "/users"): Rule(ADMIN, 200, _new_user_form),
    ("POST", "/users/{user_id}/password"): Rule(ADMIN, 200, _password_form),
    ("POST", "/users/{user_id}/{action}"): Rule(ADMIN, 200, fresh=_throwaway_user),
    ("GET", "/users/{user_id}/tokens"): Rule(ADMIN, 200),
    ("POST", "/users/{user_id}/tokens/{token_id}/revoke"): Rule(ADMIN, 200, fresh=_victim_token),
    ("GET", "/audit"): Rule(ADMIN, 200),
    ("GET", "/account"): Rule(OUTSIDER, 200),
    ("POST", "/account/password"): Rule(OUTSIDER, 200, _own_password_form, own_caller=True),
    ("POST", "/account/tokens"): Rule(OUTSIDER, 200, _mint_form),
    ("POST", "/account/tokens/{token_id}/revoke"): Rule(OUTSIDER, 200, fresh=_own_token("web")),
}
# Public by design (README: interactive docs at /docs, schema at /openapi.json): a URL to try.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "/openapi.json",
    ("GET", "/health"): "/health",  # for load balancers; says nothing about users or data
    ("GET", "/docs"): "/docs",
    ("GET", "/redoc"): "/redoc",
    ("MOUNT", "/static"): "/static/app.css",
}
WEB_POSTS = [key for key in ROUTES if key[0] == "POST" and not key[1].startswith("/api/")]


def _registered(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, mounts as ("MOUNT", path); HEAD goes with GET."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        assert route.path is not None, f"a route without a path: {route.original_route!r}"
        methods = route.methods
        found |= (
            {(m, route.path) for m in methods - {"HEAD"}} if methods else {("MOUNT", route.path)}
        )
    return found


def _key_id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


# --- the world: one app, database and set of users per backend -----------------------------


def _add_user(db: Database, name: str, role: str, *, browser: bool = True) -> tuple[int, str]:
    """A user with an API token and, for ``browser`` (argon2 is slow), a password; ``role``
    is an instance role (admin, annotator): memberships are made by ``_join``."""
    password = f"{name}-password" if browser else None
    with db.writer() as session, session.begin():
        user, token = users.create_user(session, name=name, role=role, password=password)
        return user.id, token


def _instance_role(role: str) -> str:
    return ADMIN if role == ADMIN else "annotator"


def _join(world: World, user_id: int, role: str) -> None:
    """Give a user of matrix role ``role`` their place: a member of the world's project with
    that role, or (the outsider) the manager of another project."""
    if role in MEMBERS:
        add_member(world.db, world.project_id, user_id, role)
    elif role == OUTSIDER:
        add_member(world.db, world.other_id, user_id, MANAGER)


def _page_csrf(client: TestClient, path: str) -> str:
    page = client.get(path, follow_redirects=False)
    token = CSRF_INPUT.search(page.text)
    assert page.status_code == 200 and token, f"{path} should carry a CSRF token"
    return token.group(1)


def _log_in(client: TestClient, name: str) -> str:
    """Sign ``name`` in through the form (``client`` keeps the cookie); returns the CSRF token."""
    form = {
        "username": name,
        "password": f"{name}-password",
        "csrf_token": _page_csrf(client, "/login"),
    }
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    return _page_csrf(client, "/account")


def _browser_session(client: TestClient, name: str | None) -> tuple[str, str]:
    """Sign ``name`` in (or stay anonymous); returns the session cookie and its CSRF token."""
    client.cookies.clear()
    csrf = _page_csrf(client, "/login") if name is None else _log_in(client, name)
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


def _populate(client: TestClient, db: Database, settings: Settings) -> World:
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
    victim_id, _ = _add_user(db, "victim", "annotator", browser=False)
    job_id = _finished_job(db, project.id)
    world = World(client, db, settings, project.id, list(unlabelled), victim_id, job_id, other.id)
    for role in ROLES[1:]:
        for surface in ("api", "web"):
            user_id, token = _add_user(db, f"{surface}-{role}", _instance_role(role))
            _join(world, user_id, role)
            if surface == "api":
                world.tokens[role] = token
            _add_user(db, f"joiner-{surface}-{role}", "annotator", browser=False)  # to add
        world.cookies[role], world.csrf[role] = _browser_session(client, f"web-{role}")
        if role != OUTSIDER:
            _seed_label(world, role)  # so undo has something to withdraw
    world.cookies[ANONYMOUS], world.csrf[ANONYMOUS] = _browser_session(client, None)
    return world


def _finished_job(db: Database, project_id: int) -> int:
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


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Built once per backend (the function-scoped ``client`` and ``db`` fixtures would rebuild
    it for each of the ~150 cases); the cases' writes never touch what another case relies on."""
    directory = tmp_path_factory.mktemp(f"authz-{request.param}")
    with fresh_database(request.param, request, directory) as url:
        settings = Settings(
            database_url=url, data_dir=directory / "data", embedded_worker=False, cv_folds=3
        )
        db = open_database(url)
        try:
            app = create_app(settings, worker=False)
            with TestClient(app, follow_redirects=False) as client:
                yield _populate(client, db, settings)
        finally:
            db.dispose()


def _state(db: Database) -> tuple[object, ...]:
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


def _call(
    world: World,
    key: tuple[str, str],
    role: str,
    *,
    csrf: str | None = None,
    send_csrf: bool = True,
    headers: dict[str, str] | None = None,
    fresh: bool = False,
) -> httpx.Response:
    """Call ``key`` with a valid body as ``role``: its bearer token on the API, else its session
    cookie and (on a POST, unless ``send_csrf`` is false) ``csrf`` or the session's own token.

    ``fresh`` (allowed calls of the matrix only) makes what the rule's ``fresh`` and
    ``own_caller`` ask for."""
    method, template = key
    rule = ROUTES[key]
    values = {**world.path_values(), **(rule.fresh(world, role) if fresh else {})}
    world.sent = values
    path = _plain(template).format(**values)
    sent = dict(headers or {})
    token, cookie, own_csrf = world.tokens.get(role), world.cookies[role], world.csrf[role]
    if fresh and rule.own_caller and role != ANONYMOUS:
        token, cookie, own_csrf = _own_caller(world, role)
    if template.startswith("/api/"):
        if role != ANONYMOUS:
            sent.update(auth(token))
    else:
        sent["Cookie"] = f"{SESSION_COOKIE}={cookie}"
        if method == "POST" and send_csrf:
            sent["X-CSRF-Token"] = csrf or own_csrf
    world.client.cookies.clear()
    return world.client.request(method, path, headers=sent, **rule.body(world, role))


def _plain(template: str) -> str:
    """The path template without converters (``{label:path}`` -> ``{label}``)."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", template)


def _own_caller(world: World, role: str) -> tuple[str, str, str]:
    """A new user of ``role`` with the password ``own-caller-password``: token, cookie, CSRF."""
    name = f"caller-{next(world.serial)}"
    with world.db.writer() as session, session.begin():
        user, token = users.create_user(
            session, name=name, role=_instance_role(role), password="own-caller-password"
        )
    _join(world, user.id, role)
    form = {"username": name, "password": "own-caller-password"}
    form["csrf_token"] = _page_csrf(world.client, "/login")
    assert world.client.post("/login", data=form, follow_redirects=False).status_code == 303
    csrf = _page_csrf(world.client, "/account")
    cookie = world.client.cookies.get(SESSION_COOKIE)
    assert cookie
    world.client.cookies.clear()
    return token, cookie, csrf


# --- the matrix ------------------------------------------------------------------------------


def test_every_route_is_classified(tmp_path: Path) -> None:
    app = create_app(Settings(database_url="sqlite://", data_dir=tmp_path), worker=False)
    registered = _registered(app)
    unclassified = registered - set(ROUTES) - set(PUBLIC)
    assert not unclassified, f"classify these routes in ROUTES or PUBLIC: {sorted(unclassified)}"
    stale = (set(ROUTES) | set(PUBLIC)) - registered
    assert not stale, f"classified but no longer registered: {sorted(stale)}"


def test_api_schema_documents_the_refusals(tmp_path: Path) -> None:
    app = create_app(Settings(database_url="sqlite://", data_dir=tmp_path), worker=False)
    paths = app.openapi()["paths"]
    for method, path in ROUTES:
        if not path.startswith("/api/"):
            assert path not in paths, f"{path} is a browser route and should not be in the schema"
            continue
        documented = paths[_plain(path)][method.lower()]["responses"]
        assert "401" in documented, f"{method} {path} should document 401"
        refusing = any(MATRIX[(method, path), role] == 403 for role in ROLES)
        assert ("403" in documented) == refusing, f"{method} {path}: 403 iff some role gets it"
        if "{project_id}" in path:
            assert "404" in documented, f"{method} {path} should document 404"


def expected(key: tuple[str, str], role: str) -> int:
    """The status ``role`` gets from the route ``key``, from its rule in ``ROUTES``."""
    rule = ROUTES[key]
    if RANK[role] >= RANK[rule.role]:
        return rule.ok
    if role == ANONYMOUS:
        return 401 if key[1].startswith("/api/") else 303  # the sign-in page
    if role == OUTSIDER and "{project_id}" in key[1]:
        return 404  # as if the project did not exist
    return 403


MATRIX = {(key, role): expected(key, role) for key in ROUTES for role in ROLES}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(ROUTES), ids=_key_id)
def test_route_answers_each_role_as_classified(
    world: World, key: tuple[str, str], role: str
) -> None:
    status = MATRIX[key, role]
    if RANK[role] >= RANK[ROUTES[key].role]:
        response = _call(world, key, role, fresh=True)
        assert response.status_code == status, response.text[:500]
        assert not response.headers.get("location", "").startswith("/login?next=")
        return
    before = _state(world.db)
    if role == ANONYMOUS and not key[1].startswith("/api/"):
        _assert_sign_in_redirect(world, key)
    else:
        _assert_refusal(world, _call(world, key, role), key, status)
    assert _state(world.db) == before, "a refused call must not change anything"


def _assert_refusal(
    world: World, response: httpx.Response, key: tuple[str, str], status: int
) -> None:
    """401 or 403 with their reason, or 404 worded exactly as for a missing project."""
    assert response.status_code == status, response.text[:500]
    missing = f"project {world.project_id} not found"
    if key[1].startswith("/api/"):
        assert response.headers["content-type"] == "application/json"
        detail = response.json()["detail"]
        reasons = {401: "bearer token", 403: " role", 404: missing}
        assert isinstance(detail, str) and reasons[status] in detail, detail
    else:
        assert "text/html" in response.headers["content-type"]
        heading = {403: "Not allowed", 404: "Not found"}[status]
        assert heading in response.text
        if status == 404:
            assert missing in response.text


def _assert_sign_in_redirect(world: World, key: tuple[str, str]) -> None:
    """Anonymous browsers (with a valid CSRF token, so only the missing sign-in counts) are sent
    to the sign-in page and back; HTMX requests get the same target as ``HX-Redirect``."""
    path = _plain(key[1]).format(**world.path_values())
    page = _call(world, key, ANONYMOUS)
    assert page.status_code == 303, page.text[:500]
    assert page.headers["location"] == f"/login?next={path}"
    fragment = _call(world, key, ANONYMOUS, headers={"HX-Request": "true"})
    assert fragment.status_code == 204 and fragment.headers["HX-Redirect"] == f"/login?next={path}"


@pytest.mark.parametrize("key", list(PUBLIC), ids=_key_id)
def test_docs_schema_and_static_files_are_public(world: World, key: tuple[str, str]) -> None:
    world.client.cookies.clear()
    assert world.client.get(PUBLIC[key]).status_code == 200


# --- CSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", WEB_POSTS, ids=_key_id)
def test_browser_posts_need_this_sessions_csrf_token(world: World, key: tuple[str, str]) -> None:
    before = _state(world.db)
    missing = _call(world, key, ADMIN, send_csrf=False)
    foreign = _call(world, key, ADMIN, csrf=world.csrf[ANNOTATOR])  # another session's token
    for response in (missing, foreign):
        assert response.status_code == 403, response.text[:500]
        assert "did not come from this site" in response.text
    assert _state(world.db) == before


# --- tokens and sessions ---------------------------------------------------------------------


BAD_AUTHORIZATION = {
    "no header": None,
    "scheme only": "Bearer",
    "empty token": "Bearer ",
    "basic scheme": "Basic {token}",
    "no scheme": "{token}",
    "unknown token": "Bearer ll_" + "x" * 43,
    "truncated token": "Bearer {token_cut}",
    "token with suffix": "Bearer {token}x",
    "stored digest": "Bearer {digest}",
    "two tokens": "Bearer {token} {token}",
    "non-ascii": "Bearer ll_\u00e9\u00e9",
}


@pytest.mark.parametrize("case", list(BAD_AUTHORIZATION))
def test_malformed_or_unknown_tokens_get_401(world: World, case: str) -> None:
    token = world.tokens[ADMIN]
    template = BAD_AUTHORIZATION[case]
    headers: dict[str, str] = {}
    if template is not None:
        value = template.format(token=token, token_cut=token[:-1], digest=tokens.hash_token(token))
        headers["Authorization"] = value
    world.client.cookies.clear()
    before = _state(world.db)
    for method, path in (
        ("GET", "/api/v1/projects"),
        ("POST", f"/api/v1/projects/{world.project_id}/train"),
    ):
        response = world.client.request(method, path, headers=_latin1(headers))
        assert response.status_code == 401, (case, response.text)
    assert _state(world.db) == before


def _latin1(headers: dict[str, str]) -> dict[str, bytes]:
    return {k: v.encode("latin-1") for k, v in headers.items()}


def test_token_in_query_or_cookie_is_not_accepted(world: World) -> None:
    token = world.tokens[ADMIN]
    world.client.cookies.clear()
    for params, headers in (
        ({"token": token}, {}),
        ({"access_token": token}, {}),
        ({}, {"Cookie": f"token={token}"}),
    ):
        response = world.client.get("/api/v1/projects", params=params, headers=headers)
        assert response.status_code == 401


def test_api_ignores_the_browser_session_and_pages_ignore_tokens(world: World) -> None:
    world.client.cookies.clear()
    cookie = {"Cookie": f"{SESSION_COOKIE}={world.cookies[ADMIN]}"}
    assert world.client.get("/api/v1/projects", headers=cookie).status_code == 401
    page = world.client.get("/users", headers=auth(world.tokens[ADMIN]))
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/users"


def test_a_tampered_session_cookie_is_anonymous(world: World) -> None:
    cookie = world.cookies[ADMIN]
    forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    world.client.cookies.clear()
    page = world.client.get("/users", headers={"Cookie": f"{SESSION_COOKIE}={forged}"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/users"


@pytest.fixture
def browser(world: World) -> Iterator[TestClient]:
    """The world's client with a cookie jar of its own for one test (the matrix sends cookies
    by hand and clears the jar)."""
    world.client.cookies.clear()
    yield world.client
    world.client.cookies.clear()


def test_a_deleted_user_loses_api_and_browser_access(world: World, browser: TestClient) -> None:
    _, token = _add_user(world.db, "gone", ADMIN)
    _log_in(browser, "gone")
    assert browser.get("/api/v1/projects", headers=auth(token)).status_code == 200
    assert browser.get("/users").status_code == 200
    with world.db.writer() as session, session.begin():
        session.execute(delete(User).where(User.name == "gone"))
    assert browser.get("/api/v1/projects", headers=auth(token)).status_code == 401
    page = browser.get("/users")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/users"


def test_a_token_minted_on_the_account_page_needs_the_password_and_revoking_stops_it(
    world: World, browser: TestClient
) -> None:
    _, first = _add_user(world.db, "bo", ANNOTATOR)
    csrf = {"X-CSRF-Token": _log_in(browser, "bo")}
    wrong = browser.post("/account/tokens", data={"name": "s", "password": "x"}, headers=csrf)
    assert wrong.status_code == 422 and "password is wrong" in wrong.text
    page = browser.post(
        "/account/tokens", data={"name": "script", "password": "bo-password"}, headers=csrf
    )
    assert page.status_code == 200
    (new,) = set(re.findall(r"ll_[A-Za-z0-9_-]{43}", page.text))
    for token in (first, new):  # a new token does not retire the others
        assert browser.get("/api/v1/projects", headers=auth(token)).status_code == 200
    mine = browser.get("/api/v1/me/tokens", headers=auth(new)).json()
    assert [t["name"] for t in mine] == ["script", "default"]
    revoked = browser.post(f"/account/tokens/{mine[0]['id']}/revoke", headers=csrf)
    assert revoked.status_code == 200 and ">script<" not in revoked.text
    assert browser.get("/api/v1/projects", headers=auth(new)).status_code == 401
    assert browser.get("/api/v1/projects", headers=auth(first)).status_code == 200


def test_a_demoted_admin_is_refused_at_once(world: World, browser: TestClient) -> None:
    user_id, token = _add_user(world.db, "ada", ADMIN)
    csrf = {"X-CSRF-Token": _log_in(browser, "ada")}
    project = f"/api/v1/projects/{world.project_id}"
    assert browser.post(f"{project}/train", headers=auth(token)).status_code == 202
    assert browser.get("/users").status_code == 200
    with world.db.writer() as session, session.begin():
        session.execute(update(User).where(User.name == "ada").values(role="annotator"))
    # not a member of the project: it is gone for her, on both surfaces
    assert browser.post(f"{project}/train", headers=auth(token)).status_code == 404
    assert browser.get(project, headers=auth(token)).status_code == 404
    web = browser.post(f"/projects/{world.project_id}/train", headers=csrf)
    assert web.status_code == 404
    assert browser.get("/users").status_code == 403
    add_member(world.db, world.project_id, user_id, ANNOTATOR)
    assert browser.post(f"{project}/train", headers=auth(token)).status_code == 403
    assert browser.get(project, headers=auth(token)).status_code == 200
    assert browser.get(f"/projects/{world.project_id}/annotate").status_code == 200


def test_a_member_role_change_or_removal_applies_to_the_next_request(
    world: World, browser: TestClient
) -> None:
    user_id, token = _add_user(world.db, "cy", "annotator", browser=False)
    members = f"/api/v1/projects/{world.project_id}/members"
    admin = auth(world.tokens[ADMIN])
    assert browser.get(members, headers=auth(token)).status_code == 404
    assert browser.post(members, json={"user_id": user_id}, headers=admin).status_code == 201
    assert browser.get(members, headers=auth(token)).status_code == 403
    promoted = browser.patch(f"{members}/{user_id}", json={"role": MANAGER}, headers=admin)
    assert promoted.status_code == 200 and promoted.json()["role"] == MANAGER
    assert browser.get(members, headers=auth(token)).status_code == 200
    assert browser.delete(f"{members}/{user_id}", headers=admin).status_code == 204
    assert browser.get(members, headers=auth(token)).status_code == 404


# --- another project's objects ---------------------------------------------------------------

# Routes of the outsider's own project that name an object by id: given the world project's
# item, job or member, each answers 404 and changes nothing.
FOREIGN_OBJECTS = [
    key
    for key in ROUTES
    if "{project_id}" in key[1]
    and any(name in key[1] for name in ("{item_id}", "{job_id}", "{user_id}"))
]


@pytest.mark.parametrize("key", FOREIGN_OBJECTS, ids=_key_id)
def test_another_projects_objects_are_not_found_through_ones_own(
    world: World, key: tuple[str, str]
) -> None:
    """The outsider manages their own project; the world project's objects named through it
    (its item, import job, a member of it) are 404, and a re-read shows nothing changed."""
    method, template = key
    member_id = _own_member(world)
    values = {**world.path_values(), "project_id": world.other_id, "user_id": member_id}
    sent: dict[str, str] = {}
    if template.startswith("/api/"):
        sent.update(auth(world.tokens[OUTSIDER]))
    else:
        sent["Cookie"] = f"{SESSION_COOKIE}={world.cookies[OUTSIDER]}"
        sent["X-CSRF-Token"] = world.csrf[OUTSIDER]
    before = _state(world.db)
    world.client.cookies.clear()
    response = world.client.request(
        method, _plain(template).format(**values), headers=sent, **ROUTES[key].body(world, OUTSIDER)
    )
    assert response.status_code == 404, response.text[:500]
    assert _state(world.db) == before


def _own_member(world: World) -> int:
    """A member of the world project only (made once)."""
    with world.db.reader() as session:
        found = users.get_by_name(session, "member-here-only")
    if found is not None:
        return found.id
    user_id = _add_user(world.db, "member-here-only", "annotator", browser=False)[0]
    add_member(world.db, world.project_id, user_id, ANNOTATOR)
    return user_id
