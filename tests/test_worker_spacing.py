"""A busy job wakes the others after every round; the slow periodic ones (retention,
erasures, the idle-conversation close) do not run again for each of those rounds.

The spacing is set to an hour here, so that what the tests see does not depend on
how fast the machine is: a slow job woken many times runs once, and one that has work
still runs round after round.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import Engine

from bot import worker
from bot.channels import Channels
from bot.config import Settings
from tests.support.channels import settings_with_fake_providers  # noqa: F401 (a fixture)
from tests.test_worker import wait_for

ROUNDS = 300


async def test_a_slow_job_woken_by_a_busy_one_runs_at_most_once_a_second(
    engine: Engine, settings: Settings, channels: Channels, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy: list[int] = []
    slow: list[int] = []

    def inbox_like(engine: Engine, settings: Settings, *, now: datetime) -> int:
        busy.append(1)
        return 1 if len(busy) <= ROUNDS else 0  # did work: wakes every other job

    def retention_like(engine: Engine, settings: Settings, *, now: datetime) -> int:
        slow.append(1)
        return 0  # nothing to purge

    monkeypatch.setattr(worker, "WOKEN_AT_MOST_EVERY_SECONDS", 3600.0)
    monkeypatch.setattr(
        worker,
        "JOBS",
        [worker.Job("busy", 0.25, inbox_like), worker.Job("slow", 3600.0, retention_like)],
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_worker(engine, settings, stop, channels=channels))
    await wait_for(lambda: len(busy) > ROUNDS, seconds=120)
    stop.set()
    await task

    assert len(slow) == 1  # woken 300 times: ran once (it used to run each time)


async def test_a_slow_job_with_work_to_do_runs_again_at_once(
    engine: Engine, settings: Settings, channels: Channels, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []

    def purge_in_batches(engine: Engine, settings: Settings, *, now: datetime) -> int:
        batches.append(1)
        return 1 if len(batches) <= 20 else 0  # 20 batches of old rows, then none

    monkeypatch.setattr(worker, "WOKEN_AT_MOST_EVERY_SECONDS", 3600.0)
    monkeypatch.setattr(worker, "JOBS", [worker.Job("retention", 3600.0, purge_in_batches)])
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_worker(engine, settings, stop, channels=channels))
    await wait_for(lambda: len(batches) > 20, seconds=60)  # not an hour between batches
    stop.set()
    await task
