"""Console fixtures: settings without a worker (the logged-in staff are shared ones), and
what a test that runs the bot asks for to start from no knowledge base held."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.kb import live


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No background worker: tests look at what was stored, and drive jobs by hand.
    settings.run_worker = False
    return settings


@pytest.fixture
def forget_the_published_knowledge_base() -> Iterator[None]:
    """For a test that runs the bot: the knowledge base this process holds is forgotten
    before and after it (``bot.kb.live`` keeps one per database, and PostgreSQL tests
    share a database). Not for every console test: only those that ask for it."""
    live.reset()
    yield
    live.reset()
