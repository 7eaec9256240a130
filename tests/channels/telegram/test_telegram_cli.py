"""``helpline telegram``: registering the webhook, and polling instead of a webhook."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from bot.channels import Channels
from bot.channels.telegram import TelegramChannel
from bot.cli import app as cli
from bot.cli.telegram import poll_once
from bot.config import Settings, get_settings
from tests.support.channels import fixture, inbound_messages
from tests.support.fakes.telegram_api import FakeTelegramAPI


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
