"""WhatsApp's 24-hour customer-service window, with a clock the test controls.

Outside the window a free-form message is not allowed: the approved template for
the person's language goes first (recorded as its own message), the message waits
as "held", and it is sent once the person writes again.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import col, select

from bot import outbox
from bot.channels import Channels
from bot.config import Settings
from bot.db import session_scope
from bot.models import Conversation, Message, utcnow
from tests.support.channels import fixture, new_conversation, post_whatsapp
from tests.support.fakes.twilio_api import FakeTwilioAPI

NUMBER = "whatsapp:+32478123456"
TEMPLATES = {"en": "HX00000000000000000000000000000en", "fa": "HX00000000000000000000000000000fa"}


def outbound(engine: Engine) -> list[Message]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Message).where(Message.direction == "out").order_by(col(Message.id))
            ).all()
        )


def enqueue(engine: Engine, settings: Settings, conversation: Conversation, text: str) -> None:
    with session_scope(engine) as session:
        outbox.enqueue(session, conversation, text, sender="staff", settings=settings)


def quiet_for(engine: Engine, settings: Settings, hours: float, language: str) -> Conversation:
    return new_conversation(
        engine, settings, "whatsapp", NUMBER, language=language, last_inbound_minutes_ago=hours * 60
    )


async def test_inside_the_window_a_message_is_sent_as_is(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    settings.twilio_template_sids = TEMPLATES
    conversation = quiet_for(engine, settings, 23.5, "fa")

    enqueue(engine, settings, conversation, "پاسخ شما")
    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)

    assert [(m.body, m.content_sid) for m in fake_twilio.sent] == [("پاسخ شما", None)]


async def test_outside_the_window_the_template_goes_first_and_the_message_is_held(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    settings.twilio_template_sids = TEMPLATES
    conversation = quiet_for(engine, settings, 30, "fa")

    enqueue(engine, settings, conversation, "پاسخ شما")
    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)

    template, held = outbound(engine)
    assert (template.template_sid, template.status) == (TEMPLATES["fa"], "sent")
    assert (held.text, held.status) == ("پاسخ شما", "held")
    assert [(m.body, m.content_sid) for m in fake_twilio.sent] == [(None, TEMPLATES["fa"])]


async def test_a_language_without_its_own_template_gets_the_english_one(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    settings.twilio_template_sids = TEMPLATES
    conversation = quiet_for(engine, settings, 48, "ps")

    enqueue(engine, settings, conversation, "ستاسو ځواب")
    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)

    assert [m.content_sid for m in fake_twilio.sent] == [TEMPLATES["en"]]


async def test_several_messages_outside_the_window_share_one_template(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    settings.twilio_template_sids = TEMPLATES
    conversation = quiet_for(engine, settings, 30, "en")

    for text in ("one", "two", "three"):
        enqueue(engine, settings, conversation, text)
    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)

    assert [m.status for m in outbound(engine)] == ["sent", "held", "held", "held"]
    assert len(fake_twilio.sent) == 1


async def test_a_held_message_is_sent_after_the_template_once_the_person_writes(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    channels: Channels,
    fake_twilio: FakeTwilioAPI,
) -> None:
    settings.twilio_template_sids = TEMPLATES
    conversation = quiet_for(engine, settings, 30, "en")
    enqueue(engine, settings, conversation, "Your appointment is on Monday.")
    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)
    nothing_yet = await outbox.send_due(
        engine, settings, now=utcnow() + timedelta(hours=1), channels=channels
    )

    reply = dict(fixture("whatsapp", "button_reply"), From=NUMBER)
    assert post_whatsapp(client, settings, reply).status_code == 200
    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)

    assert nothing_yet == 0
    assert [(m.content_sid, m.body) for m in fake_twilio.sent] == [
        (TEMPLATES["en"], None),
        (None, "Your appointment is on Monday."),
    ]
    assert [m.status for m in outbound(engine)] == ["sent", "sent"]


async def test_without_a_configured_template_the_message_waits_for_the_person(
    engine: Engine, settings: Settings, channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    settings.twilio_template_sids = {}
    conversation = quiet_for(engine, settings, 30, "nl")

    enqueue(engine, settings, conversation, "Hallo")
    await outbox.send_due(engine, settings, now=utcnow(), channels=channels)

    assert [m.status for m in outbound(engine)] == ["held"]
    assert fake_twilio.sent == []
    with session_scope(engine) as session:
        released = outbox.release_held(session, conversation.contact_id)
    assert released == 1


async def test_the_window_does_not_apply_to_telegram(
    engine: Engine, settings: Settings, channels: Channels
) -> None:
    settings.twilio_template_sids = TEMPLATES
    conversation = new_conversation(
        engine, settings, "telegram", "5550001234", last_inbound_minutes_ago=60 * 24 * 10
    )

    enqueue(engine, settings, conversation, "Hallo")

    assert [(m.status, m.template_sid) for m in outbound(engine)] == [("queued", None)]
