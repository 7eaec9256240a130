"""Fuzz tests: the app wired to the fake providers, no background worker.

Each test gets one app and one database for all its examples (hence the
``function_scoped_fixture`` health check being off in ``strategies.FUZZ``).
"""

from __future__ import annotations

import pytest

from bot.config import Settings
from tests.fuzz.strategies import WEBHOOK_SECRET
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI


@pytest.fixture
def settings(
    settings: Settings, fake_telegram: FakeTelegramAPI, fake_twilio: FakeTwilioAPI
) -> Settings:
    fake_telegram.configure(settings, webhook_secret=WEBHOOK_SECRET)
    fake_twilio.configure(settings)
    settings.run_worker = False
    return settings
