"""``helpline worker``: the background jobs (outbox, inbox, ...) without the web service."""

from __future__ import annotations

import asyncio
import signal

import typer

from bot import db
from bot.config import get_settings
from bot.ops import malloc as memory
from bot.ops import observability


def worker() -> None:
    """Run the background jobs until SIGINT/SIGTERM (several may run side by side)."""
    memory.limit_malloc_arenas()  # before any thread starts: numpy's start with bot.worker
    from bot.worker import run_worker

    settings = get_settings()
    observability.configure_logging(settings.log_level)  # JSON lines, tokens and numbers masked
    engine = db.make_engine(settings.database_url)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        typer.echo("worker running; Ctrl-C stops it")
        await run_worker(engine, settings, stop)

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
