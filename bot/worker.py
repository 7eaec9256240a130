"""The background worker: a small loop per job, in the app or in `helpline worker`.

A job is ``fn(engine, settings, *, now) -> int`` (how much work it did). A plain
function runs in a worker thread (database work); a coroutine function runs on the
loop and also gets ``channels=`` (it talks to providers). A job that did work runs
again at once and wakes the others (a handled inbound message usually means a
reply to send); an idle job sleeps its interval. Every job is safe to run in
several processes at once: each claims its rows atomically.

Other parts append their job with one line, e.g.
``JOBS.append(Job("inbox", 0.25, inbox.process_due))``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from fastapi import FastAPI
from sqlalchemy import Engine

from bot import conversations, inbox, outbox
from bot.broadcasts import sending as broadcasts
from bot.channels import Channels, build_channels
from bot.config import Settings
from bot.kb import live
from bot.models import utcnow
from bot.ops import malloc as memory
from bot.privacy import erasure, retention

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 30.0
WOKEN_AT_MOST_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    fn: Callable[..., int] | Callable[..., Awaitable[int]]


JOBS: list[Job] = [
    Job("outbox", 0.5, outbox.send_due),
]
JOBS.append(Job("inbox", 0.25, inbox.process_due))
# Puts due broadcasts in the outbox, a batch at a time (as bulk: replies go first).
JOBS.append(Job("broadcasts", 5.0, broadcasts.queue_due))
JOBS.append(Job("idle-conversations", 300.0, conversations.close_idle))
JOBS.append(Job("erasures", 30.0, erasure.finish_erasures))
JOBS.append(Job("retention", 3600.0, retention.purge_job))
# Hands glibc's free arena pages back to the system: a long-running instance's memory
# otherwise creeps up (bot/ops/malloc.py says why; bench/README.md what it measured).
JOBS.append(Job("malloc-trim", memory.TRIM_SECONDS, memory.FreeMemoryTrim()))


class Wakeup:
    """Wakes every job loop now instead of after its interval (e.g. a webhook arrived).

    ``set`` may be called from any thread (the console's routes run in a thread pool);
    before the worker runs it does nothing.
    """

    def __init__(self) -> None:
        self._events: list[asyncio.Event] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def event(self) -> asyncio.Event:
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._events.append(event)
        return event

    def set(self) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._set_all()
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to wake
            loop.call_soon_threadsafe(self._set_all)

    def _set_all(self) -> None:
        for event in self._events:
            event.set()


async def run_job(
    job: Job, engine: Engine, settings: Settings, channels: Channels, *, now: datetime
) -> int:
    if inspect.iscoroutinefunction(job.fn):
        done: int = await job.fn(engine, settings, now=now, channels=channels)
        return done
    call = functools.partial(job.fn, engine, settings, now=now)
    result: Any = await anyio.to_thread.run_sync(call)
    return int(result or 0)


async def run_worker(
    engine: Engine,
    settings: Settings,
    stop: asyncio.Event,
    *,
    channels: Channels | None = None,
    wakeup: Wakeup | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Run every job in ``JOBS`` until ``stop`` is set, following what staff publish in
    the knowledge base (``bot.kb.live``)."""
    own_channels = channels is None
    channels = channels if channels is not None else build_channels(settings)
    wakeup = wakeup or Wakeup()
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(live.watch(settings, stop), name="knowledge-base")
            for job in list(JOBS):
                group.create_task(
                    _loop(job, engine, settings, channels, stop, wakeup, clock),
                    name=f"job:{job.name}",
                )
    finally:
        if own_channels:
            await channels.aclose()


async def _loop(
    job: Job,
    engine: Engine,
    settings: Settings,
    channels: Channels,
    stop: asyncio.Event,
    wakeup: Wakeup,
    clock: Callable[[], datetime],
) -> None:
    woken = wakeup.event()
    failures = 0
    # A busy job wakes the others after each of its rounds; a slow periodic one
    # (retention, erasures...) that found nothing to do need not run again for each
    # of them: woken, it runs at most once a second (at once while it has work).
    spacing = WOKEN_AT_MOST_EVERY_SECONDS if job.interval_seconds >= 1 else 0.0
    idle_since: float | None = None
    while not stop.is_set():
        woken.clear()
        if idle_since is not None and (wait := idle_since + spacing - time.monotonic()) > 0:
            await _wait_any(stop, timeout=wait)
            if stop.is_set():
                break
        started = time.monotonic()
        try:
            done = await run_job(job, engine, settings, channels, now=clock())
            failures = 0
        except Exception as exc:  # a failing job (database down) must not stop the others
            failures += 1
            if failures == 1 or failures % 100 == 0:
                log.error("job %s failed (%d in a row): %r", job.name, failures, exc)
            done = 0
        if done:
            idle_since = None
            wakeup.set()
            await asyncio.sleep(0)
            continue
        idle_since = started
        await _wait_any(stop, woken, timeout=job.interval_seconds * min(failures + 1, 20))


async def _wait_any(*events: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """The app's channels, the webhooks' inbound writer, the published knowledge base
    followed and, unless ``HELPLINE_RUN_WORKER`` is false, the worker loop, for the
    app's lifetime."""
    settings: Settings = app.state.settings
    channels = build_channels(settings)
    wakeup = Wakeup()
    app.state.channels = channels
    app.state.wakeup = wakeup
    app.state.inbound_writer = writer = inbox.InboundWriter(app.state.engine, settings)
    stop = asyncio.Event()
    task = None
    if settings.run_worker:
        task = asyncio.create_task(
            run_worker(app.state.engine, settings, stop, channels=channels, wakeup=wakeup),
            name="helpline-worker",
        )
    else:  # the console still shows, and the webhooks check, what is published
        task = asyncio.create_task(live.watch(settings, stop), name="knowledge-base")
    try:
        yield
    finally:
        stop.set()
        if task is not None:
            try:
                await asyncio.wait_for(task, SHUTDOWN_GRACE_SECONDS)
            except TimeoutError:
                log.warning("worker did not stop in time; in-flight sends will be retried")
            except Exception:
                log.exception("worker ended with an error")
        await writer.aclose()
        app.state.inbound_writer = None
        await channels.aclose()
