"""``labelloop user ...`` and ``labelloop project members ...``: accounts, tokens and project
membership from the server's shell.

The shell is trusted (it can read the database anyway), so these commands need no
password; each is recorded in the audit log with the actor ``cli``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from app.audit.service import CLI, record
from app.config import Settings
from app.db import open_configured
from app.errors import AppError, NotFound
from app.models import ProjectRole, User
from app.projects import members
from app.projects.service import get_project
from app.users import service, tokens

PROMPT = object()  # --password without a value: ask for it
NO_PASSWORD = (
    "no password to read: standard input ended before one was given "
    "(give it as --password VALUE, pipe it in, or run the command in a terminal)"
)


@contextmanager
def _transaction(settings: Settings) -> Iterator[Session]:
    db = open_configured(settings)
    try:
        with db.writer() as session, session.begin():
            yield session
    finally:
        db.dispose()


def _user(session: Session, name: str) -> User:
    user = service.get_by_name(session, name)
    if user is None or user.deleted_at is not None:
        raise NotFound(f"no user named {name!r}")
    return user


def prompt_password() -> str:
    """Ask for a password twice without echo on a terminal; from a pipe, read one line.

    With nothing to read (standard input closed or at its end) or the prompt cancelled,
    ``AppError`` says so in a line instead of a traceback.
    """
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        line = stdin.readline() if stdin is not None else ""
        if not line:
            raise AppError(NO_PASSWORD)
        return line.removesuffix("\n").removesuffix("\r")
    import getpass

    try:
        first = getpass.getpass("Password: ")
        repeated = getpass.getpass("Repeat password: ")
    except EOFError:
        raise AppError(NO_PASSWORD) from None
    except KeyboardInterrupt:
        raise AppError("cancelled at the password prompt") from None
    if repeated != first:
        raise AppError("the passwords do not match")
    return first


def add(session: Session, args: argparse.Namespace) -> None:
    password = args.password
    user, token = service.create_user(
        session, name=args.name, role=args.role, password=password, actor=CLI
    )
    kind = "" if password else " (API-only: no password, cannot sign in on the web)"
    print(f"created {user.role} {user.name!r}{kind}; API token:")
    print(token)


def list_users(session: Session, args: argparse.Namespace) -> None:
    for user in service.list_users(session):
        state = "disabled" if user.disabled_at else "active"
        web = "password" if user.password_hash else "api-only"
        print(f"{user.id}\t{user.name}\t{user.role}\t{state}\t{web}")


def disable(session: Session, args: argparse.Namespace) -> None:
    service.set_disabled(session, _user(session, args.name), True, actor=CLI)
    print(f"disabled {args.name!r}: sessions ended, tokens stopped")


def enable(session: Session, args: argparse.Namespace) -> None:
    service.set_disabled(session, _user(session, args.name), False, actor=CLI)
    print(f"enabled {args.name!r}")


def delete(session: Session, args: argparse.Namespace) -> None:
    service.delete_user(session, _user(session, args.name), actor=CLI)
    print(f"deleted {args.name!r} (their labels stay, attributed)")


def reset_password(session: Session, args: argparse.Namespace) -> None:
    password = args.password
    if password is None:
        raise AppError("give the new password with --password (or --password to be prompted)")
    user = _user(session, args.name)
    service.reset_password(session, user, password, revoke_tokens=args.revoke_tokens, actor=CLI)
    revoked = "; every API token revoked" if args.revoke_tokens else ""
    print(f"password of {args.name!r} set; web sessions ended{revoked}")


def token_create(session: Session, args: argparse.Namespace) -> None:
    user = _user(session, args.name)
    token, value = tokens.create_token(
        session, user, name=args.token_name, expires_days=args.expires_days
    )
    record(session, CLI, "token.create", target=f"{user.name}/{token.name}")
    print(f"token {token.name!r} (id {token.id}) of {user.name!r}:")
    print(value)


def token_list(session: Session, args: argparse.Namespace) -> None:
    for t in tokens.list_tokens(session, _user(session, args.name).id):
        expires = t.expires_at.isoformat() if t.expires_at else "never"
        used = t.last_used_at.isoformat() if t.last_used_at else "never"
        print(f"{t.id}\t{t.name}\tcreated {t.created_at:%Y-%m-%d}\texpires {expires}\tused {used}")


def token_revoke(session: Session, args: argparse.Namespace) -> None:
    user = _user(session, args.name)
    token = next((t for t in tokens.list_tokens(session, user.id) if t.id == args.token_id), None)
    if token is None:
        raise NotFound(f"{user.name!r} has no token {args.token_id}")
    service.revoke_token(session, token, actor=CLI)
    print(f"revoked token {args.token_id} of {user.name!r}")


def members_list(session: Session, args: argparse.Namespace) -> None:
    for m in members.list_members(session, get_project(session, args.project_id)):
        print(f"{m.user_id}\t{m.name}\t{m.role}\tsince {m.created_at:%Y-%m-%d}")


def members_add(session: Session, args: argparse.Namespace) -> None:
    project, user = get_project(session, args.project_id), _user(session, args.name)
    members.add_member(session, project, user, ProjectRole(args.role), actor=CLI)
    print(f"{user.name!r} is now {args.role} of project {project.id}")


def members_set_role(session: Session, args: argparse.Namespace) -> None:
    project, user = get_project(session, args.project_id), _user(session, args.name)
    members.set_role(session, project, user, ProjectRole(args.role), actor=CLI)
    print(f"{user.name!r} is now {args.role} of project {project.id}")


def members_remove(session: Session, args: argparse.Namespace) -> None:
    project, user = get_project(session, args.project_id), _user(session, args.name)
    members.remove_member(session, project, user, actor=CLI)
    print(f"removed {user.name!r} from project {project.id} (their labels stay)")


Command = Callable[[Session, argparse.Namespace], None]


def run(command: Command, settings: Settings, args: argparse.Namespace) -> int:
    """Run one command in a transaction; an ``AppError`` is printed and exits 1."""
    try:
        if getattr(args, "password", None) is PROMPT:
            # Asked before the database is opened: nothing there waits on a person typing.
            args.password = prompt_password()
        with _transaction(settings) as session:
            command(session, args)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


def add_parsers(user: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``user`` subcommands; each sets ``user_func``."""
    p = user.add_parser("add", help="create a user and print its API token (last line)")
    p.add_argument("name")
    p.add_argument("--role", choices=["admin", "annotator"], default="annotator")
    _password_option(
        p,
        "web sign-in password (prompted for without a value, or read from a pipe); without it "
        "the account is API-only",
    )
    p.set_defaults(user_func=add)
    user.add_parser("list", help="list users").set_defaults(user_func=list_users)
    for name, func, text in (
        ("disable", disable, "disable a user: sessions end, tokens stop"),
        ("enable", enable, "re-enable a disabled user"),
        ("delete", delete, "delete a user (their labels stay)"),
    ):
        p = user.add_parser(name, help=text)
        p.add_argument("name")
        p.set_defaults(user_func=func)
    p = user.add_parser("reset-password", help="set a user's password; ends their sessions")
    p.add_argument("name")
    _password_option(p, "the new password (prompted for without a value, or read from a pipe)")
    p.add_argument("--revoke-tokens", action="store_true", help="also revoke every API token")
    p.set_defaults(user_func=reset_password)
    _token_parsers(user.add_parser("token", help="a user's API tokens"))


def _token_parsers(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="token_command", required=True)
    p = sub.add_parser("create", help="make a named token and print it (last line)")
    p.add_argument("name", help="the user")
    p.add_argument("--token-name", default="cli", help="what the token is for")
    p.add_argument("--expires-days", type=int, default=None)
    p.set_defaults(user_func=token_create)
    p = sub.add_parser("list", help="list a user's tokens")
    p.add_argument("name")
    p.set_defaults(user_func=token_list)
    p = sub.add_parser("revoke", help="revoke a token by id")
    p.add_argument("name")
    p.add_argument("token_id", type=int)
    p.set_defaults(user_func=token_revoke)


def _password_option(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--password", nargs="?", const=PROMPT, default=None, help=text)


def add_project_parsers(project: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``project members`` subcommands; each sets ``user_func``."""
    parser = project.add_parser("members", help="who works on a project, and as what")
    sub = parser.add_subparsers(dest="members_command", required=True)
    roles = [str(r) for r in ProjectRole]
    p = sub.add_parser("list", help="list a project's members")
    p.add_argument("project_id", type=int)
    p.set_defaults(user_func=members_list)
    for name, func, text in (
        ("add", members_add, "add a user to a project"),
        ("set-role", members_set_role, "change a member's role"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("project_id", type=int)
        p.add_argument("name", help="the user")
        p.add_argument("--role", choices=roles, default="annotator")
        p.set_defaults(user_func=func)
    p = sub.add_parser("remove", help="remove a user from a project (their labels stay)")
    p.add_argument("project_id", type=int)
    p.add_argument("name", help="the user")
    p.set_defaults(user_func=members_remove)
