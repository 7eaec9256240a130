"""``helpline serve``: the web service."""

from __future__ import annotations

import typer
import uvicorn

from bot.ops import malloc as memory


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Worker processes."),
) -> None:
    """Serve the webhooks, the staff console and the web chat (uvicorn)."""
    memory.limit_malloc_arenas()  # before uvicorn starts any thread
    uvicorn.run(
        "bot.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # X-Forwarded-For counts only from the proxy (uvicorn's default 127.0.0.1, or
        # $FORWARDED_ALLOW_IPS): trusting "*" lets anyone pick their own address and
        # walk around the console's per-address login limit.
        proxy_headers=True,
        access_log=False,
    )
