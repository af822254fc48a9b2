"""Application factory: ``create_app(settings)`` wires the database, routes, errors and worker."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.annotations.endpoints import router as annotations_router
from app.audit.endpoints import router as audit_router
from app.config import Settings
from app.db import open_configured
from app.deps import thread_slots, write_slots
from app.errors import AppError, Unavailable, responses, short_inputs
from app.filemodes import keep_files_private
from app.health import router as health_router
from app.items.endpoints import router as items_router
from app.items.runner import ImportRunner
from app.limits import BodyLimitMiddleware
from app.oracles.endpoints import router as oracles_router
from app.projects.endpoints import router as projects_router
from app.queue.endpoints import router as queue_router
from app.ratelimits import ApiLimiter
from app.review.endpoints import router as review_router
from app.routing import GuardedRoute
from app.training.endpoints import router as training_router
from app.users.endpoints import router as accounts_router
from app.web import (
    annotate,
    audit,
    auth,
    docs,
    imports,
    items,
    members,
    oracles,
    project_settings,
    projects,
    review,
    users,
)
from app.web.problems import request_problem
from app.web.ratelimit import LoginLimiter
from app.web.security import (
    LoginRequired,
    SecurityHeadersMiddleware,
    session_secret,
    signed_in_user,
)
from app.web.templating import ROOT, is_htmx, render

log = logging.getLogger("labelloop")

JSON_BODY_LIMIT = 16 * 1024 * 1024
# The HTML screens, in the order their routes are matched.
WEB_SCREENS = (
    auth,
    projects,
    project_settings,
    oracles,
    members,
    items,
    imports,
    annotate,
    review,
    users,
    audit,
    docs,
)


def api_router() -> APIRouter:
    router = APIRouter(
        prefix="/api/v1", responses=responses(400, 401, 413, 422), route_class=GuardedRoute
    )
    # The queue and the labels first: a request's route is found by trying the routes in
    # order, and these two carry nearly every request of a labelling crowd (no path of
    # theirs is matched by another router's route).
    for sub in (
        queue_router,
        annotations_router,
        projects_router,
        items_router,
        review_router,
        training_router,
        oracles_router,
        audit_router,
        accounts_router,
    ):
        router.include_router(sub)
    return router


def create_app(
    settings: Settings | None = None, *, worker: bool | None = None, freeze_heap: bool = False
) -> FastAPI:
    """Build the app; ``worker`` (default ``settings.embedded_worker``) trains in-process.

    ``freeze_heap`` (server processes) takes the startup heap out of the garbage collector's
    reach once started (see ``_freeze_startup_heap``).
    """
    settings = settings or Settings()
    run_worker = settings.embedded_worker if worker is None else worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_configured(settings, background_checkpoints=True)
        app.state.db = db
        app.state.write_slots = write_slots(db)
        app.state.thread_slots = thread_slots(db)
        app.state.inline_checks = db.is_sqlite  # see app.routing.GuardedRoute
        app.state.imports = ImportRunner(db, settings)
        app.state.imports.start()
        thread, stop = None, None
        if run_worker:  # only here: a web process that does not train never loads scikit-learn
            from app.scheduler.worker import start_thread

            thread, stop = start_thread(db, settings)
        if freeze_heap:
            _freeze_startup_heap()
        try:
            yield
        finally:
            app.state.imports.stop()
            if stop is not None and thread is not None:
                stop.set()
                thread.join(timeout=30)
            db.dispose()

    app = FastAPI(
        title="labelloop",
        version="1.0",
        summary="Active-learning annotation: label, retrain in the background, re-rank.",
        lifespan=lifespan,
        docs_url=None,  # served by app.web.docs from vendored files, under the CSP
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.rate_limiter = ApiLimiter(settings)
    app.state.login_limiter = LoginLimiter(
        settings.login_max_failures, settings.login_window_seconds
    )
    _middleware(app, settings)
    app.include_router(api_router())
    app.include_router(health_router, include_in_schema=False)
    for module in WEB_SCREENS:
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    _error_handlers(app)
    return app


def _middleware(app: FastAPI, settings: Settings) -> None:
    """Body limits innermost, then sessions, headers and (if any) the trusted proxies."""
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=JSON_BODY_LIMIT,
        upload_limit=settings.max_upload_bytes,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="labelloop_session",
        max_age=settings.session_days * 86400,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.https)
    if settings.trusted_proxies:
        # Outermost, so the client address and scheme are settled before anything reads them;
        # uvicorn itself never reads the headers (``proxy_headers=False`` in ``app.cli``).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)


def _freeze_startup_heap() -> None:
    """Move every object alive at startup (numpy, SQLAlchemy's mappers, FastAPI's routes, and
    scikit-learn where the process trains: some 200k) out of the garbage collector's reach.
    A full collection then walks only what requests allocate, instead of stalling every
    request for about 100 ms each time."""
    gc.collect()
    gc.freeze()


def app_factory() -> FastAPI:
    """A web process of ``labelloop serve --workers N`` (uvicorn imports it by name).

    Settings come from the environment, like the supervising process's; the training
    worker never runs here: the supervising process runs the one trainer (see ``app.cli``).
    """
    keep_files_private()
    return create_app(Settings(), worker=False, freeze_heap=True)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _error_response(
    request: Request, message: str, status_code: int, headers: dict[str, str] | None = None
) -> Response:
    """JSON for the API; a toast for HTMX requests; a page otherwise (with the navigation
    when someone is signed in)."""
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status_code, headers=headers)
    if is_htmx(request):
        return render(
            request,
            "error.html",
            {"message": message, "status": status_code},
            block="toast",
            status_code=status_code,
            headers={**(headers or {}), "HX-Retarget": "#toasts", "HX-Reswap": "beforeend"},
        )
    context = {"message": message, "status": status_code}
    if status_code != Unavailable.status_code:  # the database may be what failed
        context["current_user"] = await signed_in_user(request)
    return render(request, "error.html", context, status_code=status_code, headers=headers)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = auth.login_url(request)
        if is_htmx(request):
            # 401, not 204: a script that sends its own requests (the annotate screen's
            # outbox) must never take a refusal for success; htmx follows HX-Redirect anyway.
            return Response(status_code=exc.status_code, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return await _error_response(request, exc.message, exc.status_code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # The API keeps FastAPI's list of problems (its contract), without echoing a long
        # ``input`` (``short_inputs``); a screen says the first.
        if _is_api(request):
            problems = jsonable_encoder(short_inputs(exc.errors()))
            return JSONResponse({"detail": problems}, status_code=422)
        return await _error_response(request, request_problem(exc.errors()), 422)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(request: Request, exc: Exception) -> Response:
        # OperationalError is the DBAPI's class for failures outside the program's control
        # (refused or dropped connections, "too many clients", a lock that outlasted
        # busy_timeout); the request's transaction was rolled back, so a retry is safe.
        log.warning("database unavailable: %s", str(exc).splitlines()[0])
        error = Unavailable("the database is unavailable or busy; retry in a moment")
        return await _error_response(request, error.message, error.status_code, error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": exc.detail},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        return await _error_response(request, str(exc.detail), exc.status_code)
