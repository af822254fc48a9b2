"""Project membership: who may open a project and as what, and the member list managers edit.

Instance admins see and manage every project without a row. Anyone else sees only the
projects they are a member of: another project is "not found", exactly like a missing one.
Adding, re-roling and removing members is audited in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.errors import Conflict, Forbidden, NotFound
from app.lookups import Lookup
from app.models import Project, ProjectMember, ProjectRole, User
from app.users import service as users


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    role: ProjectRole
    created_at: datetime


def not_found(project_id: int) -> NotFound:
    """The refusal for a project the caller may not see: the missing project's own message."""
    return NotFound(f"project {project_id} not found")


_members = ProjectMember.__table__
# Every project request of a non-admin runs this: built once, so no request pays for
# building the statement and its cache key (several times SQLite's own cost; bench/README.md).
_ROLE = select(_members.c.role).where(
    _members.c.project_id == bindparam("project_id"), _members.c.user_id == bindparam("user_id")
)


def role_query(project_id: int, user_id: int) -> Select[tuple[str]]:
    return _ROLE.params(project_id=project_id, user_id=user_id)


def effective_role(db: Lookup | Session, project_id: int, user: User) -> ProjectRole:
    """What ``user`` is in the project: an instance admin counts as its manager; anyone
    else needs a membership row (one lookup on its unique index), else 404."""
    if user.is_admin:
        return ProjectRole.MANAGER
    role = db.scalar(_ROLE, {"project_id": project_id, "user_id": user.id})
    if role is None:
        raise not_found(project_id)
    return ProjectRole(role)


def require(role: ProjectRole, least: ProjectRole) -> None:
    """Refuse (403) a member whose project role is below ``least``."""
    if role.rank < least.rank:
        raise Forbidden(f"this action needs the {least} role in this project")


def visible_projects(session: Session, user: User) -> list[Project]:
    """The projects ``user`` may see: every one for an instance admin, else their own."""
    stmt = select(Project).order_by(Project.id)
    if not user.is_admin:
        mine = select(ProjectMember.project_id).where(ProjectMember.user_id == user.id)
        stmt = stmt.where(Project.id.in_(mine))
    return list(session.scalars(stmt))


def list_members(session: Session, project: Project) -> list[Member]:
    rows = session.execute(
        select(ProjectMember, User.name)
        .join(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.project_id == project.id, User.deleted_at.is_(None))
        .order_by(User.name)
    )
    return [Member(m.user_id, name, ProjectRole(m.role), m.created_at) for m, name in rows]


def find_user(session: Session, *, user_id: int | None = None, name: str | None = None) -> User:
    """The (not deleted) user named by id or by name; 404 otherwise."""
    if user_id is not None:
        return users.get_user(session, user_id)
    user = users.get_by_name(session, name or "")
    if user is None or user.deleted_at is not None:
        raise NotFound(f"user {name!r} not found")
    return user


def add_member(
    session: Session, project: Project, user: User, role: ProjectRole, *, actor: Actor
) -> Member:
    """Make ``user`` a member (Conflict if they already are)."""
    if session.scalar(role_query(project.id, user.id)) is not None:
        raise Conflict(f"{user.name} is already a member of this project")
    member = ProjectMember(project_id=project.id, user_id=user.id, role=role)
    session.add(member)
    session.flush()
    _record(session, actor, "member.add", project, user, {"role": str(role)})
    return Member(user.id, user.name, role, member.created_at)


def set_role(
    session: Session, project: Project, user: User, role: ProjectRole, *, actor: Actor
) -> Member:
    """Change a member's role (404 if they are not a member)."""
    member = _membership(session, project, user)
    old = member.role
    member.role = role
    session.flush()
    if old != role:
        detail = {"old": old, "new": str(role)}
        _record(session, actor, "member.role", project, user, detail)
    return Member(user.id, user.name, role, member.created_at)


def remove_member(session: Session, project: Project, user: User, *, actor: Actor) -> None:
    member = _membership(session, project, user)
    session.delete(member)
    session.flush()
    _record(session, actor, "member.remove", project, user, {"role": member.role})


def join(session: Session, project: Project, user: User, role: ProjectRole) -> None:
    """Make ``user`` a member with ``role`` unless they already are (no audit event: the
    caller records the action this is part of, such as creating the project)."""
    if session.scalar(role_query(project.id, user.id)) is None:
        session.add(ProjectMember(project_id=project.id, user_id=user.id, role=role))
        session.flush()


def _membership(session: Session, project: Project, user: User) -> ProjectMember:
    member = session.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project.id, ProjectMember.user_id == user.id
        )
    )
    if member is None:
        raise NotFound(f"{user.name} is not a member of this project")
    return member


def _record(
    session: Session,
    actor: Actor,
    action: str,
    project: Project,
    user: User,
    detail: Mapping[str, object],
) -> None:
    detail = {"user": user.name, **detail}
    record(session, actor, action, target=project.name, project_id=project.id, detail=detail)
