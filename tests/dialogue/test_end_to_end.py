"""Whole conversations over the real Telegram and Twilio clients and fake provider APIs,
with the real matcher.

A webhook stores what the person sent, the inbox answers it, and the outbox sends
the answer through python-telegram-bot or twilio to a fake API on 127.0.0.1. The
replayed payloads are the captured ones under ``tests/fixtures/<channel>/``.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from bot import inbox, outbox
from bot.app import create_app
from bot.channels import build_channels
from bot.config import LANGUAGES, Settings
from bot.dialogue.engine import FlowEngine, get_flow_engine
from bot.hours import OpeningHours
from bot.i18n import PDI, RLI, speaker, strip_isolates
from bot.i18n import answer_text as filled_answer
from bot.models import Conversation, Owner, utcnow
from bot.nlu.knowledge import get_knowledge
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import FakeTwilioAPI
from tests.support.flows import SAMPLES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SECRET = "end-to-end-secret"
_ids = itertools.count(900_000_001)


@pytest.fixture
def settings(
    settings: Settings, fake_telegram: FakeTelegramAPI, fake_twilio: FakeTwilioAPI
) -> Settings:
    fake_telegram.configure(settings, webhook_secret=SECRET)
    fake_twilio.configure(settings)
    settings.run_worker = False  # the test runs the jobs, with a clock it chooses
    settings.provider_timeout_seconds = 2.0
    return settings


@pytest.fixture
def flows(settings: Settings) -> FlowEngine:
    """The real thing: the knowledge base's matcher and language detection."""
    return get_flow_engine(settings)


@pytest.fixture
def web(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine)) as client:
        yield client


def payload(channel: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / channel / f"{name}.json").read_text("utf-8"))
    return data


def telegram(
    web: TestClient, chat_id: int, *, text: str | None = None, data: str | None = None
) -> None:
    if data is None:
        update = copy.deepcopy(payload("telegram", "text"))
        message = update["message"]
        message["text"] = text
    else:
        update = copy.deepcopy(payload("telegram", "callback_query"))
        update["callback_query"]["id"] = f"cb{next(_ids)}"
        update["callback_query"]["data"] = data
        message = update["callback_query"]["message"]
    update["update_id"] = next(_ids)
    message["message_id"] = next(_ids)
    message["chat"]["id"] = chat_id
    response = web.post(
        "/webhooks/telegram",
        content=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 200, response.text


def whatsapp(web: TestClient, settings: Settings, number: str, body: str) -> None:
    form = dict(payload("whatsapp", "text"), From=f"whatsapp:{number}", Body=body)
    form["MessageSid"] = form["SmsMessageSid"] = form["SmsSid"] = f"SM{next(_ids):032d}"
    url = settings.public_url.rstrip("/") + "/webhooks/whatsapp"
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(url, form)
    response = web.post(
        "/webhooks/whatsapp",
        content=urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert response.status_code == 200, response.text


async def answer(engine: Engine, settings: Settings, flows: FlowEngine) -> None:
    """The worker's two jobs: answer what is due, then send until the outbox is empty."""
    later = utcnow() + timedelta(seconds=settings.debounce_seconds + 1)
    inbox.process_due(engine, settings, now=later, flows=flows)
    channels = build_channels(settings)
    try:
        while await outbox.send_due(engine, settings, now=later, channels=channels):
            pass
    finally:
        await channels.aclose()


def said(settings: Settings, lang: str, message: str, **values: object) -> str:
    return speaker(settings.locales_dir, lang).gettext(message, **values)


def curated(settings: Settings, topic: str, lang: str) -> str:
    """A topic's answer as the bot sends it (the organisation's details filled in)."""
    answer = get_knowledge(settings).answer(topic, lang).answer
    return filled_answer(settings, OpeningHours.from_settings(settings), answer, lang).strip()


def only_conversation(engine: Engine) -> Conversation:
    with Session(engine) as session:
        return session.exec(select(Conversation)).one()


async def test_a_pashto_conversation_on_telegram(
    web: TestClient,
    engine: Engine,
    settings: Settings,
    flows: FlowEngine,
    fake_telegram: FakeTelegramAPI,
) -> None:
    settings.org_name = "Vluchtelingenwerk Vlaanderen"
    telegram(web, 7001, text=SAMPLES["ps"]["question"])
    await answer(engine, settings, flows)

    notice, question = fake_telegram.sent_to(7001)
    assert notice.text.startswith(RLI) and "90" in notice.text
    assert "یوازې د Vluchtelingenwerk Vlaanderen کارکوونکي یې لولي" in notice.text
    assert question.button_payloads == ["consent.yes", "consent.no", "language"]

    telegram(web, 7001, data="consent.yes")
    await answer(engine, settings, flows)

    reply, feedback = fake_telegram.sent_to(7001)[2:]
    assert strip_isolates(reply.text) == curated(settings, "asylum.apply", "ps")
    assert all(line.startswith(RLI) and line.endswith(PDI) for line in reply.text.split("\n"))
    assert feedback.text == said(settings, "ps", "Did this help?")
    assert feedback.button_payloads == ["helped.yes", "helped.no", "human"]

    telegram(web, 7001, data="helped.yes")
    await answer(engine, settings, flows)

    assert fake_telegram.sent_to(7001)[-1].text == said(
        settings, "ps", "Good. You can ask another question at any time."
    )
    assert only_conversation(engine).language == "ps"


async def test_a_dari_conversation_on_whatsapp(
    web: TestClient,
    engine: Engine,
    settings: Settings,
    flows: FlowEngine,
    fake_twilio: FakeTwilioAPI,
) -> None:
    to = "whatsapp:+32478000111"
    whatsapp(web, settings, "+32478000111", SAMPLES["fa"]["question"])
    await answer(engine, settings, flows)

    notice, question = fake_twilio.sent_to(to)
    assert "معلومات" in (notice.body or "")
    assert f"1 {RLI}بلی، موافق هستم{PDI}" in (question.body or "")  # numbered options

    whatsapp(web, settings, "+32478000111", "1")
    await answer(engine, settings, flows)

    reply, feedback = fake_twilio.sent_to(to)[2:]
    assert strip_isolates(reply.body or "") == curated(settings, "asylum.apply", "fa")
    assert f"3 {RLI}صحبت با یک شخص{PDI}" in (feedback.body or "")

    whatsapp(web, settings, "+32478000111", "3")  # talk to a person
    await answer(engine, settings, flows)

    conversation = only_conversation(engine)
    assert conversation.owner == Owner.queue and conversation.language == "fa"
    last = strip_isolates(fake_twilio.sent_to(to)[-1].body or "")
    assert last.startswith("یک همکار ما") or last.startswith("همکاران ما")


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_urgent_in_every_language_sends_emergency_numbers_first(
    web: TestClient,
    engine: Engine,
    settings: Settings,
    flows: FlowEngine,
    fake_telegram: FakeTelegramAPI,
    lang: str,
) -> None:
    telegram(web, 7100, text=SAMPLES[lang]["urgent"])
    await answer(engine, settings, flows)

    sent = fake_telegram.sent_to(7100)
    emergency = (
        "If you or someone else is in danger now, call {emergency}. The call is free, day and "
        "night, also without credit or papers."
    )
    assert sent[0].text == said(settings, lang, emergency, emergency="112")
    assert strip_isolates(sent[1].text) == curated(settings, "urgent", lang)
    assert all("consent.yes" not in m.button_payloads for m in sent)
    conversation = only_conversation(engine)
    assert conversation.owner == Owner.queue and conversation.urgent


async def test_a_voice_note_on_telegram_is_answered_in_text_in_every_language(
    web: TestClient,
    engine: Engine,
    settings: Settings,
    flows: FlowEngine,
    fake_telegram: FakeTelegramAPI,
) -> None:
    update = payload("telegram", "voice")
    response = web.post(
        "/webhooks/telegram",
        content=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 200
    await answer(engine, settings, flows)

    reply, picker = fake_telegram.sent_to(update["message"]["chat"]["id"])
    for lang in LANGUAGES:
        assert said(settings, lang, "I can only read text messages.") in reply.text
    assert picker.button_payloads == [f"lang:{code}" for code in LANGUAGES]
