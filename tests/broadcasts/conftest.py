"""Broadcast tests: the fake providers, the outbox and the broadcast job run by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import outbox
from bot.config import Settings
from tests.support.channels import WEBHOOK_SECRET
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI

TEMPLATES = {lang: f"HXbroadcast{lang}" for lang in ("nl", "fr", "en", "uk", "ps", "fa")}


@pytest.fixture(name="settings")
def broadcast_settings(
    settings: Settings, fake_telegram: FakeTelegramAPI, fake_twilio: FakeTwilioAPI
) -> Settings:
    """Both providers pointed at their fakes, the worker off (tests run the jobs)."""
    fake_telegram.configure(settings, webhook_secret=WEBHOOK_SECRET)
    fake_twilio.configure(settings)
    settings.run_worker = False
    # No fault here hangs: a long timeout only spares a busy machine spurious pool timeouts.
    settings.provider_timeout_seconds = 10.0
    settings.broadcast_template_sids = dict(TEMPLATES)
    settings.outbox_batch_size = 100
    # The fakes take what they get: the providers' own rates are tested on their own.
    settings.outbox_rates = "whatsapp=0,telegram=0"
    return settings


@pytest.fixture(autouse=True)
def fresh_paces() -> Iterator[None]:
    """Each test starts at the configured rates (a 429 elsewhere slowed nothing here)."""
    outbox.PACES.clear()
    yield
    outbox.PACES.clear()
