"""Knowledge-base tests: the knowledge base this process holds is forgotten after each
test (``bot.kb.live`` keeps one per database, and PostgreSQL tests share a database)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.kb import live


@pytest.fixture(autouse=True)
def _forget_the_published_knowledge_base() -> Iterator[None]:
    live.reset()
    yield
    live.reset()
