"""A flood from one number: everything is stored, the bot answers only within the limit."""

from __future__ import annotations

import re
from collections import Counter

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot import inbox
from bot.app import create_app
from bot.config import Settings
from bot.messages import Inbound
from bot.models import Conversation, Direction, Message, MessageStatus, utcnow
from tests.support.channels import (
    post_whatsapp,
    settings_with_fake_providers,  # noqa: F401 (a fixture: this module's settings)
)
from tests.support.factories import add_conversation
from tests.support.flows import SAMPLES, Chat
from tests.support.staff import make_staff


def inbound_statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(
            session.exec(select(Message.status).where(Message.direction == Direction.inbound))
        )


def test_a_slow_script_flooding_one_number_gets_no_more_answers_than_the_limit(
    chat: Chat, settings: Settings
) -> None:
    chat.consent("en")
    answered = 0
    # One message every 2.5 s: each one outlasts the debounce, so without a limit
    # every single one would get its own answer.
    for _ in range(100):
        chat.arrive(SAMPLES["en"]["unknown"], after=0.5)
        answered += bool(chat.process(after=2.0))

    assert 0 < answered <= settings.inbound_limit
    statuses = inbound_statuses(chat.engine)
    assert sum(statuses.values()) == 102  # two consent presses and the whole flood: all kept
    assert statuses[MessageStatus.received] == 0  # nothing waits to be answered later
    assert chat.conversation().flooded_at is not None


def test_the_bot_answers_again_once_the_person_slows_down(chat: Chat, settings: Settings) -> None:
    chat.consent("en")
    for _ in range(3 * settings.inbound_limit):
        chat.arrive(SAMPLES["en"]["unknown"], after=0.1)
    chat.process()

    assert chat.process(after=settings.inbound_limit_seconds) == []  # the flood stays unanswered
    replies = chat.send(SAMPLES["en"]["question"])

    assert replies, "a message after a pause is answered"


def test_one_persons_flood_does_not_silence_anyone_else(
    engine: Engine, settings: Settings, chat: Chat
) -> None:
    chat.consent("en")
    for _ in range(3 * settings.inbound_limit):
        chat.arrive(SAMPLES["en"]["unknown"], after=0.1)
    other = Chat(engine, settings, chat.flows, channel="whatsapp", address="whatsapp:+32470999888")
    other.now = chat.now

    other.consent("nl")
    replies = other.send(SAMPLES["nl"]["question"])

    assert replies
    assert other.conversation().flooded_at is None


def test_the_limit_holds_across_two_instances_of_the_service(
    engine: Engine, settings: Settings
) -> None:
    flood = 2 * settings.inbound_limit
    with (
        TestClient(create_app(settings, engine)) as first,
        TestClient(create_app(settings, engine)) as second,
    ):
        for i in range(flood):
            form = {
                "MessageSid": f"SM{i:032x}",
                "From": "whatsapp:+32470555666",
                "To": "whatsapp:+32470000000",
                "Body": f"spam {i}",
                "NumMedia": "0",
            }
            response = post_whatsapp(first if i % 2 else second, settings, form)
            assert response.status_code == 200  # acknowledged: Twilio must not retry

    statuses = inbound_statuses(engine)
    assert statuses[MessageStatus.received] == settings.inbound_limit  # left for the bot
    assert statuses[MessageStatus.handled] == flood - settings.inbound_limit  # kept for staff
    with Session(engine) as session:
        conversation = session.exec(select(Conversation)).one()
        texts = session.exec(
            select(Message.text)
            .where(Message.conversation_id == conversation.id)
            .order_by(col(Message.id))
        ).all()
    assert texts == [f"spam {i}" for i in range(flood)]
    assert conversation.flooded_at is not None


def test_a_limit_of_zero_turns_the_limit_off(chat: Chat, settings: Settings) -> None:
    settings.inbound_limit = 0
    for _ in range(50):
        chat.arrive("hello?", after=0.01)

    assert inbound_statuses(chat.engine)[MessageStatus.received] == 50
    assert chat.conversation().flooded_at is None


def test_staff_see_which_conversations_are_flooded(
    engine: Engine, settings: Settings, app: FastAPI, client: TestClient
) -> None:
    with Session(engine) as session:
        flooded = add_conversation(session, settings, address="+3247011", channel="whatsapp")
        calm = add_conversation(session, settings, address="+3247022", channel="whatsapp")
        session.commit()
        flooded_id, calm_id = flooded.id, calm.id
    for i in range(settings.inbound_limit + 5):
        inbound = Inbound("whatsapp", "+3247011", f"flood-{i}", "spam", None, None, None, utcnow())
        inbox.receive(engine, settings, inbound)
    staff = make_staff(engine, app, "staff@example.org").login()

    queue = staff.get("/console/queue").text
    rows = {
        row_id: row
        for row_id, row in re.findall(r'data-conversation="(\d+)">(.*?)</tr>', queue, re.S)
    }

    assert "flood-badge" in rows[str(flooded_id)]
    assert "flood-badge" not in rows[str(calm_id)]
    assert "flood-badge" in staff.get(f"/console/conversations/{flooded_id}").text
    assert "flood-badge" not in staff.get(f"/console/conversations/{calm_id}").text
    staff.client.close()


def test_an_emergency_inside_a_flood_is_still_answered_at_once(
    chat: Chat, settings: Settings
) -> None:
    chat.consent("en")
    for _ in range(3 * settings.inbound_limit):
        chat.arrive(SAMPLES["en"]["unknown"], after=0.1)
    chat.process()
    assert chat.process(after=1.0) == []  # the flood itself stays unanswered

    chat.arrive(SAMPLES["en"]["urgent"], after=0.1)
    replies = chat.process(after=0.0)

    assert any("112" in reply.text for reply in replies)
    conversation = chat.conversation()
    assert conversation.urgent
    assert conversation.owner == "queue"
