"""Console fixtures: settings without a worker (the logged-in staff are shared ones)."""

from __future__ import annotations

import pytest

from bot.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No background worker: tests look at what was stored, and drive jobs by hand.
    settings.run_worker = False
    return settings
