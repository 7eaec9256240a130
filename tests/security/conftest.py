"""Security tests: the app wired to the fake providers, no background worker.

Tests drive the inbox by hand with the small ``FakeMatcher`` of the flow tests, so a
test decides when time passes and what the bot "understands".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from bot.dialogue.engine import FlowEngine

# Fixtures defined once elsewhere, re-exported: the channel tests' ``settings`` (both
# providers pointed at their fakes, no background worker) with its webhook secret, and
# the flow tests' ``flows`` (the flow engine with the small ``FakeMatcher``).
from tests.channels.conftest import WEBHOOK_SECRET, settings
from tests.flows.conftest import Chat, flows

__all__ = ["WEBHOOK_SECRET", "chat", "flows", "settings"]


@pytest.fixture
def chat(engine: Engine, settings: Settings, flows: FlowEngine) -> Iterator[Chat]:
    yield Chat(engine, settings, flows, channel="whatsapp", address="whatsapp:+32470111222")
