"""Application factory: ``create_app(settings)`` wires the database, routes, errors and worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from app.annotations.endpoints import router as annotations_router
from app.config import Settings
from app.db import open_database
from app.errors import AppError
from app.items.endpoints import router as items_router
from app.limits import BodyLimitMiddleware
from app.projects.endpoints import router as projects_router
from app.queue.endpoints import router as queue_router
from app.scheduler.worker import start_thread
from app.training.endpoints import router as training_router
from app.training.predictor import Predictor

log = logging.getLogger("labelloop")

JSON_BODY_LIMIT = 16 * 1024 * 1024


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    for sub in (projects_router, items_router, queue_router, annotations_router, training_router):
        router.include_router(sub)
    return router


def create_app(settings: Settings | None = None, *, worker: bool | None = None) -> FastAPI:
    """Build the app; ``worker`` (default ``settings.embedded_worker``) trains in-process."""
    settings = settings or Settings()
    run_worker = settings.embedded_worker if worker is None else worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings.sqlalchemy_url)
        app.state.db = db
        app.state.predictor = Predictor()
        thread, stop = start_thread(db, settings) if run_worker else (None, None)
        try:
            yield
        finally:
            if stop is not None and thread is not None:
                stop.set()
                thread.join(timeout=30)
            db.dispose()

    app = FastAPI(
        title="labelloop",
        version="1.0",
        summary="Active-learning annotation: label, retrain in the background, re-rank.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=JSON_BODY_LIMIT,
        upload_limit=settings.max_upload_bytes,
    )
    app.include_router(api_router())

    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    return app
