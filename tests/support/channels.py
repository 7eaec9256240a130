"""Channel tests: the app wired to fake Telegram and Twilio servers.

``settings_with_fake_providers`` is the ``settings`` of these tests: the shared one
with both providers pointed at their fakes and the background worker off (tests
drive the outbox job by hand, with a clock they choose). It is not a global fixture:
it overrides ``settings`` in a folder whose conftest brings it in by name, or in a
test module that does. Webhook requests are signed with twilio's own
``RequestValidator``; ``fixture()`` reads the captured payloads of
``tests/fixtures/<channel>/``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import col, select
from twilio.request_validator import RequestValidator

from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.db import session_scope
from bot.models import Contact, Conversation, Message, utcnow
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture(name="settings")
def settings_with_fake_providers(
    settings: Settings, fake_telegram: FakeTelegramAPI, fake_twilio: FakeTwilioAPI
) -> Settings:
    fake_telegram.configure(settings, webhook_secret=WEBHOOK_SECRET)
    fake_twilio.configure(settings)
    settings.run_worker = False
    settings.provider_timeout_seconds = 0.5
    return settings


def fixture(channel: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / channel / f"{name}.json").read_text("utf-8"))
    return data


def twilio_signature(settings: Settings, path: str, form: Mapping[str, str]) -> str:
    url = settings.public_url.rstrip("/") + path
    return str(RequestValidator(settings.twilio_auth_token).compute_signature(url, dict(form)))


def post_whatsapp(
    client: TestClient | httpx.Client,
    settings: Settings,
    form: Mapping[str, str],
    path: str = "/webhooks/whatsapp",
    signature: str | None = None,
) -> Any:
    """Post a form the way Twilio does, signed unless a signature is given."""
    return client.post(
        path,
        content=urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(settings, path, form)
            if signature is None
            else signature,
        },
    )


def post_telegram(
    client: TestClient | httpx.Client, update: Any, secret: str | None = WEBHOOK_SECRET
) -> Any:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    return client.post("/webhooks/telegram", content=body, headers=headers)


def inbound_messages(engine: Engine) -> list[Message]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Message).where(Message.direction == "in").order_by(col(Message.id))
            ).all()
        )


def new_conversation(
    engine: Engine,
    settings: Settings,
    channel: str,
    address: str,
    *,
    language: str = "en",
    last_inbound_minutes_ago: float | None = 1,
) -> Conversation:
    """A contact with an open conversation, as if they had just written."""
    with session_scope(engine) as session:
        contact = get_or_create_contact(session, settings, channel, address)
        if last_inbound_minutes_ago is not None:
            from datetime import timedelta

            contact.last_inbound_at = utcnow() - timedelta(minutes=last_inbound_minutes_ago)
        contact.language = language
        session.add(contact)
        session.flush()
        assert contact.id is not None
        conversation = Conversation(contact_id=contact.id, channel=channel, language=language)
        session.add(conversation)
        session.flush()
        return conversation


def contact_of(engine: Engine, conversation: Conversation) -> Contact:
    with session_scope(engine) as session:
        contact = session.get(Contact, conversation.contact_id)
        assert contact is not None
        return contact
