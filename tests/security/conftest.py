"""Security tests: the app wired to the fake providers, no background worker.

Tests drive the inbox by hand with the small ``FakeMatcher`` of the flow tests, so a
test decides when time passes and what the bot "understands".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from bot.engine.flows import FlowEngine, load_flows
from bot.engine.knowledge import get_knowledge
from bot.hours import OpeningHours
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.flows.conftest import Chat, FakeMatcher

WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture
def settings(
    settings: Settings, fake_telegram: FakeTelegramAPI, fake_twilio: FakeTwilioAPI
) -> Settings:
    fake_telegram.configure(settings, webhook_secret=WEBHOOK_SECRET)
    fake_twilio.configure(settings)
    settings.run_worker = False
    settings.provider_timeout_seconds = 0.5
    return settings


@pytest.fixture
def flows(settings: Settings) -> FlowEngine:
    assert settings.flows_dir is not None
    return FlowEngine(
        settings,
        load_flows(settings.flows_dir),
        get_knowledge(settings),
        FakeMatcher(),
        OpeningHours.from_settings(settings),
    )


@pytest.fixture
def chat(engine: Engine, settings: Settings, flows: FlowEngine) -> Iterator[Chat]:
    yield Chat(engine, settings, flows, channel="whatsapp", address="whatsapp:+32470111222")
