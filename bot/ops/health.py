"""Liveness and readiness, for the load balancer and the IT volunteer."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bot import db
from bot.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(engine: EngineDep) -> JSONResponse:
    """The database answers and its schema is current; 503 otherwise."""
    ready, detail = db.is_ready(engine)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "detail": detail},
        status_code=200 if ready else 503,
    )
