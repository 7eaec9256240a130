"""The console's own CSS and JavaScript (nothing from a CDN: the network may be closed)."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import FileResponse

from bot.console.i18n import N_
from bot.console.routing import console_router
from bot.console.templating import STATIC

router = console_router()
TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
FILES = {path.name: path for path in STATIC.iterdir() if path.suffix in TYPES}


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    path = FILES.get(name)
    if path is None:
        raise HTTPException(404, N_("There is no such file."))
    return FileResponse(
        path, media_type=TYPES[path.suffix], headers={"Cache-Control": "public, max-age=3600"}
    )
