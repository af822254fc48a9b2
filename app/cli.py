"""The ``labelloop`` command: migrate, serve, worker, user (accounts and tokens), demo, oracle."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from app import heap
from app.config import Settings
from app.db import open_configured
from app.filemodes import keep_files_private, make_data_dir


def _settings() -> Settings:
    """The settings of a command, whose files (database, uploads, models) are owner-only."""
    keep_files_private()
    settings = Settings()
    make_data_dir(settings.data_dir)
    return settings


def cmd_migrate(_: argparse.Namespace) -> int:
    from app.migrate import upgrade

    settings = _settings()
    upgrade(settings.sqlalchemy_url)
    print(f"database at head: {_safe_url(settings)}")
    return 0


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)


def _require_migrated(settings: Settings) -> bool:
    from app.migrate import current_revision, head_revision

    db = open_configured(settings)
    try:
        current = current_revision(db.engine)
    finally:
        db.dispose()
    head = head_revision(settings.sqlalchemy_url)
    if current != head:
        print(
            f"error: the database {_safe_url(settings)} is not migrated "
            f"(revision {current or 'none'}, head {head}); run `labelloop migrate` first",
            file=sys.stderr,
        )
        return False
    return True


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    settings = _settings()
    if not _require_migrated(settings):
        return 2
    heap.limit_arenas(settings.malloc_arenas)  # before any thread, and for the web processes
    if args.workers > 1:
        return _serve_processes(settings, args)
    app = create_app(settings, worker=not args.no_worker, freeze_heap=True)
    print(f"labelloop serving on http://{args.host}:{args.port}  (API docs: /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, proxy_headers=False)
    return 0


# How long uvicorn waits for a web process to answer its ping before it kills and replaces it
# (uvicorn's default, 5 s, kills processes that are still importing on a busy machine).
WEB_PROCESS_PING_SECONDS = 30
# The demo projects `labelloop demo --task` loads (app.demo.loader.DEMOS, not imported here so
# that the command starts without the app's imports).
DEMO_TASKS = ("classification", "translation_review", "sentence_selection")


def _serve_processes(settings: Settings, args: argparse.Namespace) -> int:
    """``serve --workers N``: N web processes and, unless ``--no-worker``, one trainer.

    uvicorn starts the web processes (``app.main:app_factory``, no trainer in them) and
    supervises them from this process, which runs the one training worker thread: training
    is CPU-bound, so N embedded trainers would only compete with the web processes for the
    cores (runs are claimed in the database, so they would still never train one project
    twice at once). The session secret is settled here first, so every process signs alike.
    """
    import uvicorn

    from app.scheduler.worker import start_thread
    from app.web.security import session_secret

    session_secret(settings)
    db = open_configured(settings)
    thread, stop = (None, None) if args.no_worker else start_thread(db, settings)
    print(
        f"labelloop serving on http://{args.host}:{args.port} with {args.workers} web "
        f"processes{'' if args.no_worker else ' and one training worker'}  (API docs: /docs)",
        flush=True,
    )
    try:
        uvicorn.run(
            "app.main:app_factory",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            timeout_worker_healthcheck=WEB_PROCESS_PING_SECONDS,
            proxy_headers=False,  # the app decides whom to believe: LABELLOOP_TRUSTED_PROXIES
        )
    finally:
        if stop is not None and thread is not None:
            stop.set()
            thread.join(timeout=30)
        db.dispose()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from app.scheduler.liveness import check, host_heartbeat

    settings = _settings()
    if args.check:  # a health check: answer before importing the learning stack
        alive, message = check(settings)
        print(message, file=sys.stdout if alive else sys.stderr)
        return 0 if alive else 1
    from app.scheduler.worker import Worker, deprioritise_process

    if not _require_migrated(settings):
        return 2
    heap.limit_arenas(settings.malloc_arenas)
    deprioritise_process(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    db = open_configured(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        Worker(db, settings, heartbeat=host_heartbeat(settings)).run_forever(stop)
    finally:
        db.dispose()
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    from app import cli_users

    settings = _settings()
    if not _require_migrated(settings):
        return 2
    return cli_users.run(args.user_func, settings, args)


def cmd_oracle(args: argparse.Namespace) -> int:
    from app import cli_oracle

    return cli_oracle.run(args, _settings())


def cmd_demo(args: argparse.Namespace) -> int:
    """Load a demo project; the first run makes the admin, later runs keep its credentials."""
    import secrets

    from app.audit.service import CLI
    from app.demo.loader import load_demo
    from app.users.service import create_user, get_by_name

    settings = _settings()
    if not _require_migrated(settings):
        return 2
    db = open_configured(settings)
    password = token = None
    try:
        with db.writer() as session, session.begin():
            project, created = load_demo(session, task=args.task)
            if get_by_name(session, args.admin) is None:
                password = secrets.token_urlsafe(12)
                _, token = create_user(
                    session, name=args.admin, role="admin", password=password, actor=CLI
                )
    finally:
        db.dispose()
    state = "created" if created else "already present"
    print(f"demo project {project.name!r} (id {project.id}) {state}")
    if password is None:
        print(
            f"admin {args.admin!r} already exists: its password and tokens are unchanged "
            f"(`labelloop user reset-password {args.admin} --password` sets a new password)"
        )
        return 0
    print(f"sign in as {args.admin!r} with password {password}")
    print("admin API token:")
    print(token)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from app import cli_oracle, cli_users

    parser = argparse.ArgumentParser(prog="labelloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database to the latest schema").set_defaults(
        func=cmd_migrate
    )
    serve = sub.add_parser("serve", help="serve the web app and API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-worker", action="store_true", help="do not train in this process")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="web processes (default 1); with more, one training worker runs beside them",
    )
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run the training worker")
    worker.add_argument(
        "--check",
        action="store_true",
        help=(
            "exit 0 if a worker on this host (this command's, or the one `serve` embeds) "
            "beat recently, 1 if not (a health check)"
        ),
    )
    worker.set_defaults(func=cmd_worker)
    users = sub.add_parser("user", help="manage users and their API tokens")
    users.set_defaults(func=cmd_user)
    cli_users.add_parsers(users.add_subparsers(dest="user_command", required=True))
    projects = sub.add_parser("project", help="manage a project's members")
    projects.set_defaults(func=cmd_user)
    cli_users.add_project_parsers(projects.add_subparsers(dest="project_command", required=True))
    demo = sub.add_parser("demo", help="load a demo project and print an admin token")
    demo.add_argument("--admin", default="admin")
    demo.add_argument(
        "--task",
        default="classification",
        choices=DEMO_TASKS,
        help=(
            "which demo project: intents (classification, the default), translation review, "
            "sentence selection (Wikipedia articles)"
        ),
    )
    demo.set_defaults(func=cmd_demo)
    oracle = sub.add_parser("oracle", help="a project's oracles; serve the local model")
    oracle.set_defaults(func=cmd_oracle)
    cli_oracle.add_parsers(oracle.add_subparsers(dest="oracle_command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except ValidationError as exc:  # a LABELLOOP_* variable with a bad value
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            print(
                f"error: configuration{' ' + where if where else ''}: {error['msg']}",
                file=sys.stderr,
            )
        return 2


if __name__ == "__main__":
    sys.exit(main())
