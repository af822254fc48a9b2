"""The bodies and the fresh objects of the routes' calls in the authorisation matrix."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from app.models import Document, ImportJob, Item, Project, User
from app.users import service as users
from app.users import tokens
from tests.factories import add_member, create_oracle, create_project, import_jsonl
from tests.security.authz_world import (
    ANNOTATOR,
    ANONYMOUS,
    MANAGER,
    MEMBERS,
    RANK,
    World,
    add_user,
    finished_job,
)

Body = Callable[[World, str], dict[str, Any]]
Fresh = Callable[[World, str], dict[str, object]]


def no_fresh(world: World, role: str) -> dict[str, object]:
    return {}


def nothing(world: World, role: str) -> dict[str, Any]:
    return {}


def query(**params: object) -> Body:
    return lambda world, role: {"params": params}


def new_project_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"api-{role}-{next(world.serial)}", "labels": ["a", "b"]}}


def new_project_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"web-{role}-{next(world.serial)}", "labels": "a\nb"}}


def patch_project(world: World, role: str) -> dict[str, Any]:
    return {"json": {"batch_size": 20 + RANK[role]}}  # a change, whoever sends it


def settings_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"strategy": "entropy", "batch_size": str(30 + RANK[role])}}


def _rows(role: str, world: World) -> bytes:
    n = next(world.serial)
    return f'{{"text": "imported by {role}, file {n}", "label": "sports"}}\n'.encode()


def upload(world: World, role: str) -> dict[str, Any]:
    return {"files": {"file": ("rows.jsonl", _rows(role, world), "application/json")}}


def kept_upload(world: World, role: str) -> dict[str, Any]:
    """A file kept aside as the preview step would have kept it."""
    upload_id = f"{secrets.token_urlsafe(18)}.jsonl"
    uploads = world.settings.data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / upload_id).write_bytes(_rows(role, world))
    return {"data": {"upload_id": upload_id, "text_field": "text", "label_field": "label"}}


def label_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"item_id": world.item_ids[0], "label": "sports"}}


def bulk_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"annotations": [{"item_id": world.item_ids[0], "label": "sports"}]}}


def label_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"item_id": str(world.item_ids[0]), "label": "sports", "have": ""}}


def relabel_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"label": "food"}}


def skip_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"item_id": str(world.item_ids[1])}}


def adjudicate_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"label": "food", "note": f"decided by {role}"}}


def adjudicate_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"label": "weather", "note": f"decided by {role}"}}


def predict_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"texts": ["the striker scored a goal"]}}


def credentials(world: World, role: str) -> dict[str, Any]:
    name = "web-annotator" if role == ANONYMOUS else f"web-{role}"
    return {"data": {"username": name, "password": f"{name}-password"}}


def new_user_form(world: World, role: str) -> dict[str, Any]:
    name = f"made-by-{role}-{next(world.serial)}"
    return {"data": {"name": name, "password": "a-long-password", "role": "admin"}}


def password_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"password": f"new-password-{next(world.serial)}"}}


def new_user_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"api-made-by-{role}-{next(world.serial)}", "role": "annotator"}}


def password_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"password": f"new-password-{next(world.serial)}"}}


def own_password_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"current_password": "own-caller-password", "new_password": "a-new-password"}}


def own_password_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"current_password": "own-caller-password", "new_password": "a-new-password"}}


def mint_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"script-{next(world.serial)}", "password": f"api-{role}-password"}}


def mint_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"script-{next(world.serial)}", "password": f"web-{role}-password"}}


def role_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"role": "annotator"}}


def new_member_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"user": f"joiner-api-{role}", "role": "reviewer"}}


PUBLIC_ORACLE = {"base_url": "http://1.1.1.1/v1", "model": "m"}  # an address literal: no DNS


def new_oracle_json(world: World, role: str) -> dict[str, Any]:
    name = f"oracle-{role}-{next(world.serial)}"
    return {"json": {"name": name, "kind": "openai", "config": PUBLIC_ORACLE, "enabled": False}}


def oracle_patch_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"budget_calls": 10 + RANK[role]}}


def throwaway_oracle(world: World, role: str) -> dict[str, object]:
    """A disabled oracle of the world's project (never called: no worker runs)."""
    name = f"spare-{role}-{next(world.serial)}"
    oracle_id = create_oracle(
        world.db, world.project_id, name=name, kind="openai", config=PUBLIC_ORACLE, enabled=False
    )
    return {"oracle_id": oracle_id}


def new_member_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"joiner-web-{role}", "role": "reviewer"}}


def member_role_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"role": "manager"}}


def member_role_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"role": "manager"}}


def throwaway_member(world: World, role: str) -> dict[str, object]:
    user_id = _throwaway(world)
    add_member(world.db, world.project_id, user_id, "annotator")
    return {"user_id": user_id}


def _throwaway(world: World) -> int:
    return add_user(world.db, f"gone-{next(world.serial)}", ANNOTATOR, browser=False)[0]


def throwaway_user(world: World, role: str) -> dict[str, object]:
    return {"user_id": _throwaway(world), "action": "disable"}


def _token_of(world: World, user_name: str | None, user_id: int | None = None) -> int:
    with world.db.writer() as session, session.begin():
        user = session.get_one(User, user_id) if user_id else users.get_by_name(session, user_name)
        assert user is not None
        return tokens.create_token(session, user, name="to revoke")[0].id


def own_token(prefix: str) -> Fresh:
    return lambda world, role: {"token_id": _token_of(world, f"{prefix}-{role}")}


def victim_token(world: World, role: str) -> dict[str, object]:
    user_id = _throwaway(world)
    return {"user_id": user_id, "token_id": _token_of(world, None, user_id)}


def throwaway_project(world: World, role: str) -> dict[str, object]:
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


def fresh_label(world: World, role: str) -> dict[str, object]:
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


def fresh_document(world: World, role: str) -> dict[str, object]:
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


def throwaway_item(world: World, role: str) -> dict[str, object]:
    return {"item_id": _new_item(world)}


def throwaway_import(world: World, role: str) -> dict[str, object]:
    """A finished import of one new item, to undo."""
    item_id = _new_item(world)
    job_id = finished_job(world.db, world.project_id)
    with world.db.writer() as session, session.begin():
        job = session.get_one(ImportJob, job_id)
        job.first_item_id = job.last_item_id = item_id
    return {"job_id": job_id}


def delete_items_json(world: World, role: str) -> dict[str, Any]:
    """Allowed callers delete a new item; refused ones name the world's first item."""
    allowed = RANK[role] >= RANK[MANAGER]
    return {"json": {"ids": [_new_item(world) if allowed else world.item_ids[0]]}}


def label_items_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"ids": [world.item_ids[0]], "labels": ["food"]}}


def review_items_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"ids": [world.item_ids[0]]}}


def review_items_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"ids": [world.item_ids[0]], "query": "status=all"}}


def label_items_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"ids": [world.item_ids[0]], "label": "weather", "query": "status=all"}}


_FORM_ITEMS: dict[int, int] = {}  # id(world) -> the item the next allowed delete form names


def stash_item(world: World, role: str) -> dict[str, object]:
    """A new item for an allowed delete from the items screen (the form names it)."""
    _FORM_ITEMS[id(world)] = _new_item(world)
    return {}


def delete_items_form(world: World, role: str) -> dict[str, Any]:
    """Allowed calls delete the stashed new item; refused ones name the world's first."""
    return {"data": {"ids": [_FORM_ITEMS.pop(id(world), world.item_ids[0])]}}


def label_name_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"named-by-{role}-{next(world.serial)}"}}


def label_name_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"web-named-by-{role}-{next(world.serial)}"}}


def label_rename_form(world: World, role: str) -> dict[str, Any]:
    """The label the call names (a fresh one when allowed) and a new name for it."""
    return {"data": {"label": world.sent["label"], "name": f"web-{next(world.serial)}"}}


def label_delete_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"label": world.sent["label"]}}


def rename_project_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"renamed-by-{role}-{next(world.serial)}"}}


def confirm_form(world: World, role: str) -> dict[str, Any]:
    """The fresh project's name typed (refused calls: nothing typed)."""
    return {"data": {"confirm": world.sent.get("confirm", "")}}


def guidelines_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"guidelines": f"written by {role}", "label": ["food"], "description": ["x"]}}


def oracle_options_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"suggest_preselect": "true", "oracle_examples": str(RANK[role])}}


def oracle_form(world: World, role: str) -> dict[str, Any]:
    """A new oracle on a public address literal (no DNS look-up)."""
    name = f"web-{role}-{next(world.serial)}"
    return {"data": {"name": name, "url": PUBLIC_ORACLE["base_url"], "model": "m"}}


def oracle_id_form(world: World, role: str) -> dict[str, Any]:
    """The fresh oracle (refused calls: an id nobody has)."""
    return {"data": {"oracle_id": str(world.sent.get("oracle_id", 999_999))}}
