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

# The channel tests' ``settings`` fixture (both providers pointed at their fakes, no
# background worker) and its webhook secret, re-exported: one definition for both suites.
from tests.channels.conftest import WEBHOOK_SECRET, settings
from tests.flows.conftest import Chat, FakeMatcher

__all__ = ["WEBHOOK_SECRET", "chat", "flows", "settings"]


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
