"""Operations tests: health, logs and metrics, memory, security headers, flood control."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from bot.dialogue.engine import FlowEngine
from tests.support.flows import Chat


@pytest.fixture
def chat(engine: Engine, settings: Settings, flows: FlowEngine) -> Iterator[Chat]:
    """The person flooding the bot writes on WhatsApp."""
    yield Chat(engine, settings, flows, channel="whatsapp", address="whatsapp:+32470111222")
