"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine

from bot import __version__, channels, db, worker
from bot.config import Settings, get_settings
from bot.console import router as console_router
from bot.console import stats as console_stats
from bot.ops import health, observability, security


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.env != "test":
        observability.configure_logging(settings.log_level)
    engine = engine or db.make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with worker.running(app):
            yield
        engine.dispose()

    # No /docs or /redoc: their pages need inline script and a CDN, which our CSP refuses;
    # the schema stays at /openapi.json.
    app = FastAPI(
        title="helpline", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.engine = engine
    # Until the lifespan starts them (``worker.running``): no channels, no group-commit
    # writer (each message its own transaction), nothing to wake.
    app.state.channels = channels.Channels({})
    app.state.inbound_writer = None
    app.state.wakeup = worker.Wakeup()
    # Innermost of ours (added first): around every route, so none reads a body before
    # its size is checked, and inside the others, so a 413 has its headers and request id.
    app.add_middleware(security.BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(security.SecurityHeadersMiddleware, public_url=settings.public_url)
    app.add_exception_handler(RequestValidationError, security.validation_error_response)
    app.add_middleware(observability.RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(observability.router)
    for router in channels.routers():
        app.include_router(router)
    app.include_router(console_router)
    app.include_router(console_stats.router)
    return app
