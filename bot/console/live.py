"""Live updates by server-sent events, derived from the database.

Each stream polls a cheap "version" query; when the version changes it renders the
new fragment and sends it. Because the source of truth is the database, a change
made through any instance of the service (or by the worker) reaches every browser.
A stream ends after ``STREAM_SECONDS``; the browser's EventSource reconnects by
itself and gets the current state at once, which keeps shutdowns quick.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

POLL_SECONDS = 1.0
STREAM_SECONDS = 25.0
RETRY_MILLISECONDS = 1000

Events = list[tuple[str, str]]


def format_event(event: str, data: str) -> str:
    lines = data.splitlines() or [""]
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


async def _stream(
    request: Request,
    version: Callable[[], Hashable],
    render: Callable[[], Events],
    poll_seconds: float,
    stream_seconds: float,
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    last: Hashable = object()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + stream_seconds
    while loop.time() < deadline:
        if await request.is_disconnected():
            return
        current = await run_in_threadpool(version)
        if current != last:
            for event, data in await run_in_threadpool(render):
                yield format_event(event, data)
            last = current
        else:
            yield ": ping\n\n"
        await asyncio.sleep(poll_seconds)


def event_stream(
    request: Request,
    version: Callable[[], Hashable],
    render: Callable[[], Events],
    *,
    poll_seconds: float | None = None,
    stream_seconds: float = STREAM_SECONDS,
) -> StreamingResponse:
    """Stream ``render``'s events each time ``version`` changes.

    Unless given, the poll interval is the app's ``console_poll_seconds`` (tests shorten
    it), else ``POLL_SECONDS``.
    """
    if poll_seconds is None:
        poll_seconds = getattr(request.app.state, "console_poll_seconds", POLL_SECONDS)
    return StreamingResponse(
        _stream(request, version, render, poll_seconds, stream_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
