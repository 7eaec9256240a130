"""Long-running commands (`helpline worker`, `helpline telegram poll`): run until a signal."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import typer
from sqlalchemy import Engine


def run_until_stopped(
    engine: Engine, banner: str, main: Callable[[asyncio.Event], Awaitable[None]]
) -> None:
    """Run ``main(stop)`` until SIGINT or SIGTERM sets ``stop``; dispose of the engine."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        typer.echo(banner)
        await main(stop)

    try:
        asyncio.run(run())
    finally:
        engine.dispose()
