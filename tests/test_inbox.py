"""The inbound pipeline: storing, debouncing, state across restarts, silence for staff."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import conversations, db, inbox
from bot.config import Settings
from bot.dialogue.engine import FlowEngine
from bot.messages import Inbound
from bot.models import (
    Contact,
    ContactRecord,
    Conversation,
    Message,
    MessageStatus,
    Owner,
    utcnow,
)
from bot.privacy import erasure
from tests.support.flows import MONDAY_MORNING, SAMPLES, Chat


def close_idle(chat: Chat, later: timedelta) -> int:
    return conversations.close_idle(chat.engine, chat.settings, now=chat.now + later)


def test_quick_fragments_get_one_answer(chat: Chat) -> None:
    chat.consent("en")
    chat.arrive("Hello", after=0.5)
    chat.arrive("I have a question", after=0.5)
    assert chat.process(after=1.0) == []  # still typing: the last fragment is 1 s old

    chat.arrive(SAMPLES["en"]["question"], after=0.5)
    replies = chat.process()

    assert [r.payloads for r in replies] == [[], ["helped.yes", "helped.no", "human"]]
    with Session(chat.engine) as session:
        statuses = {
            m.status for m in session.exec(select(Message).where(Message.direction == "in"))
        }
    assert statuses == {MessageStatus.handled}


def test_an_urgent_message_is_answered_without_waiting_for_a_pause(chat: Chat) -> None:
    chat.arrive(SAMPLES["fr"]["urgent"])

    replies = chat.process(after=0.1)

    assert "112" in replies[0].text
    assert chat.conversation().urgent


def test_a_provider_retry_is_stored_once(engine: Engine, settings: Settings) -> None:
    inbound = Inbound("telegram", "4242", "update-7", "hallo", None, None, None, utcnow())

    assert inbox.receive(engine, settings, inbound) is True
    assert inbox.receive(engine, settings, inbound) is False

    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 1


def test_a_conversation_continues_after_a_restart(
    chat: Chat, database_url: str, settings: Settings
) -> None:
    chat.send(SAMPLES["uk"]["question"])  # the privacy notice, waiting for consent
    chat.engine.dispose()

    restarted_engine = db.make_engine(database_url)
    restarted = Chat(
        restarted_engine,
        settings,
        FlowEngine(
            settings,
            chat.flows.flows,
            chat.flows.knowledge,
            type(chat.flows.matcher)(),
            chat.flows.hours,
        ),
        now=chat.now,
        seen=chat.seen,
    )
    answer = restarted.press("consent.yes")

    assert answer[0].language == "uk"
    assert answer[1].payloads == ["helped.yes", "helped.no", "human"]
    restarted_engine.dispose()


def test_the_bot_is_silent_while_staff_have_the_conversation(chat: Chat) -> None:
    chat.consent("nl")
    with Session(chat.engine) as session:
        conversation = session.get(Conversation, chat.conversation().id)
        assert conversation is not None
        conversation.owner = Owner.staff
        session.add(conversation)
        session.commit()

    assert chat.send(SAMPLES["nl"]["question"]) == []
    assert chat.send(media_type="image/jpeg", media_ref="photo-1") == []

    with Session(chat.engine) as session:
        joined = session.exec(
            select(Message).where(
                Message.conversation_id == chat.conversation().id, Message.direction == "in"
            )
        ).all()
    assert [m.status for m in joined][-2:] == ["handled", "handled"]
    assert joined[-1].media_ref == "photo-1"


def test_danger_in_a_queued_conversation_moves_it_up_silently(chat: Chat) -> None:
    chat.consent("en")
    chat.send(SAMPLES["en"]["human"])
    assert not chat.conversation().urgent

    assert chat.send(SAMPLES["en"]["urgent"]) == []
    assert chat.conversation().urgent


def test_whatsapp_number_replies_press_the_buttons(
    engine: Engine, settings: Settings, flows: FlowEngine
) -> None:
    chat = Chat(engine, settings, flows, channel="whatsapp", address="whatsapp:+32470000001")
    chat.send(SAMPLES["nl"]["question"])

    answer = chat.send("1")  # "1 Ja, akkoord"

    assert chat.contact().consent_at is not None
    assert answer[-1].payloads == ["helped.yes", "helped.no", "human"]
    with Session(engine) as session:
        one = session.exec(select(Message).where(Message.text == "1")).one()
    assert one.button == "consent.yes"


def test_typing_a_button_title_presses_it(chat: Chat) -> None:
    chat.send(SAMPLES["en"]["question"])

    chat.send("yes, I agree")

    assert chat.contact().consent_at is not None


def test_a_pressed_button_reads_as_its_title_in_the_transcript(chat: Chat) -> None:
    chat.send(SAMPLES["en"]["question"])
    chat.press("consent.yes")

    with Session(chat.engine) as session:
        pressed = session.exec(select(Message).where(Message.button == "consent.yes")).one()
    assert pressed.text == "Yes, I agree"


def test_idle_conversations_are_closed_as_resolved_by_the_bot(chat: Chat) -> None:
    chat.consent("fr")
    chat.send(SAMPLES["fr"]["question"])

    assert close_idle(chat, timedelta(hours=23)) == 0
    assert close_idle(chat, timedelta(hours=25)) == 1

    conversation = chat.conversation()
    assert conversation.owner == Owner.closed and conversation.outcome == "resolved_by_bot"
    with Session(chat.engine) as session:
        record = session.exec(select(ContactRecord)).one()
    assert record.closed_at is not None and record.handled_by == "bot"
    assert not record.handed_off


def test_writing_after_a_closed_conversation_opens_a_new_one(chat: Chat) -> None:
    chat.consent("fr")
    first = chat.conversation().id
    conversations.close_idle(chat.engine, chat.settings, now=chat.now + timedelta(days=2))
    chat.now += timedelta(days=2)

    reply = chat.send(SAMPLES["fr"]["question"])

    assert chat.conversation().id != first
    assert (
        reply[0].language == "fr"
    )  # language and consent are the person's, not the conversation's
    assert reply[1].payloads == ["helped.yes", "helped.no", "human"]


def test_queued_conversations_are_not_closed_for_idleness(chat: Chat) -> None:
    chat.consent("en")
    chat.send(SAMPLES["en"]["human"])

    assert close_idle(chat, timedelta(days=3)) == 0


def test_an_erasure_finishes_once_the_goodbye_was_sent(chat: Chat) -> None:
    chat.consent("ps")
    chat.send(SAMPLES["ps"]["question"])
    chat.send("/delete")
    chat.press("delete.yes")

    assert erasure.finish_erasures(chat.engine, chat.settings, now=chat.now) == 0  # not sent yet
    with Session(chat.engine) as session:
        goodbye = session.exec(select(Message)).one()
        goodbye.status = MessageStatus.sent
        session.add(goodbye)
        session.commit()

    assert erasure.finish_erasures(chat.engine, chat.settings, now=chat.now) == 1

    with Session(chat.engine) as session:
        assert session.exec(select(Contact)).all() == []
        assert session.exec(select(Conversation)).all() == []
        assert session.exec(select(Message)).all() == []
        record = session.exec(select(ContactRecord)).one()
    assert record.language == "ps" and record.conversation_id is None


def test_two_workers_answer_a_message_once(
    engine: Engine, settings: Settings, flows: FlowEngine
) -> None:
    chat = Chat(engine, settings, flows)
    chat.consent("en")
    chat.arrive(SAMPLES["en"]["question"])
    later = chat.now + timedelta(seconds=5)
    barrier = threading.Barrier(2)
    handled: list[int] = []

    def worker() -> None:
        barrier.wait()
        handled.append(inbox.process_due(engine, settings, now=later, flows=flows))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(handled) == [0, 1]
    assert [r.payloads for r in chat.replies()] == [[], ["helped.yes", "helped.no", "human"]]


def test_stored_state_is_on_the_contact(chat: Chat) -> None:
    chat.send(SAMPLES["en"]["question"])

    contact = chat.contact()
    assert (contact.language, contact.flow, contact.flow_step) == ("en", "first_contact", "consent")
    assert contact.flow_data == {"pending": SAMPLES["en"]["question"]}
    assert contact.last_inbound_at is not None
    assert contact.last_inbound_at > MONDAY_MORNING
