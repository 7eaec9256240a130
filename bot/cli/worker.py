"""``helpline worker``: the background jobs (outbox, inbox, ...) without the web service."""

from __future__ import annotations

from bot import db
from bot.cli.running import run_until_stopped
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

    run_until_stopped(
        engine, "worker running; Ctrl-C stops it", lambda stop: run_worker(engine, settings, stop)
    )
