"""The worker loop in the app, ``helpline worker``, ``helpline telegram``, and media."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from bot import outbox, worker
from bot.app import create_app
from bot.channels import Channels, SendError
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import WhatsAppChannel
from bot.cli import app as cli
from bot.cli.telegram import poll_once
from bot.config import Settings, get_settings
from bot.db import session_scope
from tests.support.channels import (
    fixture,
    inbound_messages,
    new_conversation,
    settings_with_fake_providers,  # noqa: F401 (a fixture: this module's settings)
)
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import ACCOUNT_SID, FakeTwilioAPI


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
        outbox.enqueue(session, conversation, "Hallo", sender="bot")

    with TestClient(create_app(settings, engine)):
        asyncio.run(wait_for(lambda: fake_telegram.sent))

    assert [m.text for m in fake_telegram.sent] == ["Hallo"]


def test_with_the_worker_off_the_app_only_stores(
    settings: Settings, engine: Engine, fake_telegram: FakeTelegramAPI
) -> None:
    conversation = new_conversation(engine, settings, "telegram", "5550001234")
    with session_scope(engine) as session:
        outbox.enqueue(session, conversation, "Hallo", sender="bot")

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


def test_set_webhook_registers_the_public_url_with_the_secret_token(
    settings: Settings, fake_telegram: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("telegram_token", "telegram_api_url", "telegram_webhook_secret", "public_url"):
        monkeypatch.setenv(f"HELPLINE_{name.upper()}", str(getattr(settings, name)))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["telegram", "set-webhook"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    assert fake_telegram.webhook["url"] == "http://testserver/webhooks/telegram"
    assert fake_telegram.webhook["secret_token"] == settings.telegram_webhook_secret


async def test_polling_stores_updates_and_moves_past_them(
    engine: Engine, settings: Settings, channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    channel = channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    fake_telegram.push_update(fixture("telegram", "text"))
    fake_telegram.push_update(fixture("telegram", "callback_query"))

    offset = await poll_once(engine, settings, channel, None, wait=0)
    again = await poll_once(engine, settings, channel, offset, wait=0)

    assert offset == 810000003
    assert again == offset
    assert len(inbound_messages(engine)) == 2
    assert fake_telegram.answered == ["4382bfdwdsb323b2d9"]


async def test_staff_can_fetch_a_telegram_voice_note(
    channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    fake_telegram.add_file("AwACAgQAAxkBAAIBq2V0voice", b"OggS-voice", "voice/file_12.oga")
    channel = channels["telegram"]

    data, content_type = await channel.fetch_media("AwACAgQAAxkBAAIBq2V0voice")

    assert (data, content_type) == (b"OggS-voice", "audio/ogg")


async def test_staff_can_fetch_a_whatsapp_image_through_the_configured_api(
    channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/ME1"
    media_url = fake_twilio.add_media(path, b"\xff\xd8jpeg", "image/jpeg")

    data, content_type = await channels["whatsapp"].fetch_media(media_url)

    assert (data, content_type) == (b"\xff\xd8jpeg", "image/jpeg")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://evil.example/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "https://api.twilio.com/../../etc/passwd",
    ],
)
async def test_a_media_reference_outside_twilio_is_never_fetched(
    channels: Channels, fake_twilio: FakeTwilioAPI, url: str
) -> None:
    channel = channels["whatsapp"]
    assert isinstance(channel, WhatsAppChannel)

    with pytest.raises(SendError) as raised:
        await channel.fetch_media(url)

    assert raised.value.permanent
    assert not [r for r in fake_twilio.requests if r.method == "GET"]
