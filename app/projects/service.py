"""Projects: creation, lookup, settings and counts; creation and settings changes are audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.service import CLI, Actor, record
from app.errors import Conflict, Invalid, NotFound
from app.learning.options import QueryOptions
from app.models import ModelVersion, Project, ProjectRole
from app.projects import members
from app.projects.schemas import OPTIONS, ProjectCreate, ProjectUpdate, check_descriptions
from app.projects.shape import Shape


@dataclass(frozen=True)
class ProjectRef:
    """A project by its id alone, for services that check it exists in their own queries."""

    id: int


@dataclass(frozen=True)
class ProjectCounts:
    n_items: int
    n_labeled: int
    model_version: int | None

    @property
    def n_unlabeled(self) -> int:
        return self.n_items - self.n_labeled


def create_project(session: Session, data: ProjectCreate, *, actor: Actor = CLI) -> Project:
    """Create the project (Conflict if the name is taken); ``actor`` is who, for the audit log
    (the default, the command line, is for the demo loader and scripts), and its manager."""
    shape = data.shape()
    project = Project(
        task=shape.task,
        item_fields=shape.stored_fields,
        primary_field=shape.primary_field,
        layout=shape.layout,
        name=data.name,
        labels=data.labels,
        multi_label=data.multi_label,
        strategy=data.strategy,
        batch_size=data.batch_size,
        settings={name: getattr(data, name) for name in OPTIONS},
        guidelines=data.guidelines,
        label_descriptions=data.label_descriptions,
        random_seed=secrets.randbelow(2**31),
        label_events=0,
        pool_version=0,
    )
    try:
        # added inside the savepoint, so that its rollback also forgets the project and the
        # session stays usable (the web form is shown again in the same transaction)
        with session.begin_nested():
            session.add(project)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"a project named {data.name!r} already exists; choose another name"
        ) from None
    if actor.user is not None:  # the creator manages it (an instance admin too: harmless)
        members.join(session, project, actor.user, ProjectRole.MANAGER)
    detail = {
        "labels": len(project.labels),
        "multi_label": project.multi_label,
        **_settings(project),
    }
    if shape.task != "classification" or shape.multi_field:
        detail["shape"] = shape.model_dump()
    record(
        session, actor, "project.create", target=project.name, project_id=project.id, detail=detail
    )
    return project


def get_project(session: Session, project_id: int, *, for_update: bool = False) -> Project:
    stmt = select(Project).where(Project.id == project_id)
    if for_update:
        stmt = stmt.with_for_update()
    project = session.scalar(stmt)
    if project is None:
        raise NotFound(f"project {project_id} not found")
    return project


def list_projects(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.id)))


def update_project(
    session: Session, project: Project, data: ProjectUpdate, *, actor: Actor
) -> Project:
    """Apply the name and settings ``data`` sets (Conflict if the name is another project's);
    those whose value changed go to the audit log as ``{name: {"old": ..., "new": ...}}``
    (nothing is recorded if none did)."""
    before = {"name": project.name, **_settings(project), **Shape.of(project).model_dump()}
    if data.name is not None and data.name != project.name:
        _rename(session, project, data.name)
    if data.shape_changes():
        _reshape(session, project, data.shape_changes())
    if data.strategy is not None:
        project.strategy = data.strategy
    if data.batch_size is not None:
        project.batch_size = data.batch_size
    if data.guidelines is not None:
        project.guidelines = data.guidelines
    if data.label_descriptions is not None:
        try:
            descriptions = check_descriptions(data.label_descriptions, list(project.labels))
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        project.label_descriptions = descriptions
    changed = {name: getattr(data, name) for name in OPTIONS if getattr(data, name) is not None}
    if changed:
        project.settings = {**(project.settings or {}), **changed}
    session.flush()
    after = {"name": project.name, **_settings(project), **Shape.of(project).model_dump()}
    changes = {k: {"old": before[k], "new": v} for k, v in after.items() if before[k] != v}
    if changes:
        record(
            session,
            actor,
            "project.update",
            target=project.name,
            project_id=project.id,
            detail={"changes": changes},
        )
    return project


def _reshape(session: Session, project: Project, changes: dict[str, object]) -> None:
    """Give ``project`` a new shape (Invalid if it is not one); Conflict when the project has
    items and what they are would change (they were imported for the old one)."""
    old = Shape.of(project)
    given = {**old.model_dump(), **changes}
    if "task" in changes and "fields" not in changes:  # the new task's default fields
        given["fields"] = []
    if "primary_field" not in changes and {"task", "fields"} & set(changes):
        given["primary_field"] = ""  # the new fields' default
    try:
        new = Shape.model_validate(given)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if not new.same_items(old):
        n_items = session.scalar(select(Project.n_items).where(Project.id == project.id))
        if n_items:
            raise Conflict(
                f"the project has {n_items} items imported as {old.task} with the fields "
                f"{', '.join(old.fields)}: its task and fields cannot change any more "
                "(create a new project for the new shape)"
            )
    project.task, project.item_fields = new.task, new.stored_fields
    project.primary_field, project.layout = new.primary_field, new.layout or "stacked"


def _rename(session: Session, project: Project, name: str) -> None:
    """Give ``project`` the name, in a savepoint: a taken name leaves the session usable."""
    try:
        with session.begin_nested():
            project.name = name
            session.flush()
    except IntegrityError:
        raise Conflict(f"a project named {name!r} already exists; choose another name") from None


def _settings(project: Project) -> dict[str, object]:
    """Every setting a project update may change, with its current value."""
    return {
        "strategy": project.strategy,
        "batch_size": project.batch_size,
        **options(project).stored(),
        "guidelines": project.guidelines,
        "label_descriptions": dict(project.label_descriptions or {}),
    }


def counts(session: Session, project: Project) -> ProjectCounts:
    """Items, labelled items and the published version, in one primary-key read.

    ``projects.n_items`` and ``projects.n_labeled`` are kept by triggers in the transaction
    of every item and annotation write (migration 0005): exact, and no count over the pool.
    They are read from the row, not from ``project``, which may predate this transaction's
    own writes (the triggers change the row behind the ORM's back).
    """
    row = session.execute(
        select(Project.n_items, Project.n_labeled, ModelVersion.version)
        .outerjoin(
            ModelVersion,
            (ModelVersion.id == Project.current_model_id) & (ModelVersion.version > 0),
        )
        .where(Project.id == project.id)
    ).one()
    return ProjectCounts(n_items=row[0], n_labeled=row[1], model_version=row[2])


def options(project: Project) -> QueryOptions:
    """The project's query options; those it stored before they existed keep that meaning."""
    return QueryOptions.from_stored(
        strategy=project.strategy, batch_size=project.batch_size, settings=project.settings
    )
