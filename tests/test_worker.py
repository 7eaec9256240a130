"""The worker loop: in the app or not, its jobs waking each other, a failing job."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot import outbox, worker
from bot.app import create_app
from bot.channels import Channels
from bot.config import Settings
from bot.db import session_scope
from tests.support.channels import (
    new_conversation,
    settings_with_fake_providers,  # noqa: F401 (a fixture: this module's settings)
)
from tests.support.fakes.telegram_api import FakeTelegramAPI


async def wait_for(condition: object, seconds: float = 10.0) -> None:
    """Wait until ``condition()`` holds (a deadline for a hang, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


def test_the_app_sends_queued_messages_in_the_background(
    settings: Settings, engine: Engine, fake_telegram: FakeTelegramAPI
) -> None:
    settings.run_worker = True
    conversation = new_conversation(engine, settings, "telegram", "5550001234")
    with session_scope(engine) as session:
        outbox.enqueue(session, conversation, "Hallo", sender="bot", settings=settings)

    with TestClient(create_app(settings, engine)):
        asyncio.run(wait_for(lambda: fake_telegram.sent))

    assert [m.text for m in fake_telegram.sent] == ["Hallo"]


def test_with_the_worker_off_the_app_only_stores(
    settings: Settings, engine: Engine, fake_telegram: FakeTelegramAPI
) -> None:
    conversation = new_conversation(engine, settings, "telegram", "5550001234")
    with session_scope(engine) as session:
        outbox.enqueue(session, conversation, "Hallo", sender="bot", settings=settings)

    with TestClient(create_app(settings, engine)) as client:
        assert client.get("/healthz").status_code == 200

    assert fake_telegram.sent == []


async def test_a_job_that_did_work_wakes_the_others(
    engine: Engine, settings: Settings, channels: Channels, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []

    def producer(engine: Engine, settings: Settings, *, now: datetime) -> int:
        runs.append("producer")
        return 1 if runs.count("producer") == 1 else 0

    async def consumer(
        engine: Engine, settings: Settings, *, now: datetime, channels: Channels
    ) -> int:
        runs.append("consumer")
        return 0

    monkeypatch.setattr(
        worker, "JOBS", [worker.Job("producer", 60, producer), worker.Job("consumer", 60, consumer)]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_worker(engine, settings, stop, channels=channels))

    await wait_for(lambda: runs.count("consumer") >= 2)
    stop.set()
    await task

    assert runs.count("producer") == 2  # ran again at once after doing work


async def test_a_failing_job_does_not_stop_the_worker(
    engine: Engine, settings: Settings, channels: Channels, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def broken(engine: Engine, settings: Settings, *, now: datetime) -> int:
        calls.append(1)
        raise RuntimeError("database went away")

    monkeypatch.setattr(worker, "JOBS", [worker.Job("broken", 0.01, broken)])
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_worker(engine, settings, stop, channels=channels))

    await wait_for(lambda: len(calls) >= 3)
    stop.set()
    await task
