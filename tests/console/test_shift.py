"""What a staff member needs through a shift, over HTTP: unread markers, how long a
person has waited for a reply and why, the first question, snippets, and closing with
the right topic, a warning and a closing message in the person's language."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.console import canned
from bot.console.templating import clock
from bot.i18n import speaker
from bot.models import (
    Conversation,
    Direction,
    Message,
    MessageStatus,
    Owner,
    Sender,
    StaffSnippet,
    utcnow,
)
from tests.support.factories import add_conversation
from tests.support.flows import Chat
from tests.support.staff import Staff

CLOSING = (
    "This conversation is now closed. Thank you for writing to us. You can write to us here"
    " again at any time."
)


def conversation_with(engine: Engine, settings: Settings, *, address: str, **fields: object) -> int:
    """A waiting conversation (text: the person's first message), then ``fields`` set."""
    text = fields.pop("text", "Hello?")
    language = fields.pop("language", "ps")
    with Session(engine) as session:
        conversation = add_conversation(
            session,
            settings,
            address=address,
            text=str(text),
            language=str(language),  # type: ignore[arg-type]
        )
        for name, value in fields.items():
            setattr(conversation, name, value)
        session.add(conversation)
        session.commit()
        assert conversation.id is not None
        return conversation.id


def add_message(
    engine: Engine,
    conversation_id: int,
    text: str,
    *,
    sender: str = Sender.user,
    minutes_ago: float = 0,
    staff_id: int | None = None,
    topic: str | None = None,
) -> None:
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        session.add(
            Message(
                conversation_id=conversation_id,
                channel=conversation.channel,
                direction=Direction.inbound if sender == Sender.user else Direction.outbound,
                sender=sender,
                staff_id=staff_id,
                text=text,
                topic=topic,
                status=MessageStatus.received if sender == Sender.user else MessageStatus.sent,
                created_at=utcnow() - timedelta(minutes=minutes_ago),
            )
        )
        session.commit()


def row_of(page: str, conversation_id: int) -> str:
    found = re.search(rf'<tr [^>]*data-conversation="{conversation_id}".*?</tr>', page, re.S)
    assert found, f"no row for conversation {conversation_id}"
    return found.group(0)


def held_by(engine: Engine, staff: Staff, conversation_id: int) -> None:
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.owner, conversation.assignee_id = Owner.staff, staff.id
        session.add(conversation)
        session.commit()


# --- signals -------------------------------------------------------------------------


def test_a_conversation_is_unread_until_opened_and_again_when_the_person_writes(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = conversation_with(engine, settings, address="1")
    assert "unread-badge" in row_of(alice.get("/console/queue").text, conversation_id)

    assert alice.get(f"/console/conversations/{conversation_id}").status_code == 200

    assert "unread-badge" not in row_of(alice.get("/console/queue").text, conversation_id)
    assert "unread-badge" in row_of(bob.get("/console/queue").text, conversation_id)  # his own
    add_message(engine, conversation_id, "Are you there?")
    assert "unread-badge" in row_of(alice.get("/console/queue").text, conversation_id)


def test_the_signals_count_urgent_waiting_ones_and_unread_replies_in_mine(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    from bot.console.signals import Signals, signals

    urgent = conversation_with(engine, settings, address="1", urgent=True)
    conversation_with(engine, settings, address="2")  # waiting, not urgent: not signalled
    mine = conversation_with(engine, settings, address="3")
    held_by(engine, alice, mine)
    alice.get(f"/console/conversations/{mine}")  # read

    with Session(engine) as session:
        assert signals(session, alice.id) == Signals(urgent=(urgent,), mine=())
    add_message(engine, mine, "One more question")
    with Session(engine) as session:
        assert signals(session, alice.id) == Signals(urgent=(urgent,), mine=(mine,))


def test_every_row_says_since_when_the_person_waits_for_a_reply(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    now = utcnow()
    waiting = conversation_with(
        engine, settings, address="1", queued_at=now - timedelta(minutes=25)
    )
    answered = conversation_with(engine, settings, address="2")
    again = conversation_with(engine, settings, address="3")
    for conversation_id in (answered, again):
        held_by(engine, alice, conversation_id)
        add_message(
            engine,
            conversation_id,
            "Hello, how can I help?",
            sender=Sender.staff,
            staff_id=alice.id,
        )
    add_message(engine, again, "I have two questions", minutes_ago=12)
    add_message(engine, again, "and a third one", minutes_ago=3)

    page = alice.get("/console/queue").text

    assert "25 min" in row_of(page, waiting)
    assert "answered" in row_of(page, answered)
    # Counted from the oldest message after the last staff answer.
    since = now - timedelta(minutes=12)
    assert clock(since, settings.timezone) in row_of(page, again)
    assert "12 min" in row_of(page, again)


# --- queue rows ----------------------------------------------------------------------


def test_queue_rows_say_why_the_person_waits_and_show_the_first_question(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    suicide = conversation_with(
        engine,
        settings,
        address="1",
        urgent=True,
        urgent_kind="self_harm",
        topic="urgent",
        handoff_reason="urgent",
    )
    asked = conversation_with(
        engine,
        settings,
        address="2",
        text="How do I apply for asylum?",
        topic="asylum.apply",
        handoff_reason="asked",
        language="en",
    )
    add_message(engine, asked, "I want to talk to a person")
    not_helped = conversation_with(engine, settings, address="3", handoff_reason="not_helpful")
    staff_only = conversation_with(engine, settings, address="4", handoff_reason="staff_only")

    page = alice.get("/console/queue").text

    assert "urgent: suicide risk" in row_of(page, suicide)
    title = canned.topic_titles(canned.knowledge(settings), "en")["asylum.apply"]
    assert "asked for a person" in row_of(page, asked)
    assert title in row_of(page, asked)
    assert "First:" in row_of(page, asked)
    assert row_of(page, asked).index("How do I apply for asylum?") < row_of(page, asked).index(
        "I want to talk to a person"
    )
    assert "the answer did not help" in row_of(page, not_helped)
    assert "only staff can answer" in row_of(page, staff_only)
    held_by(engine, alice, asked)
    page = alice.get("/console/queue").text
    for table in re.findall(r'<table class="queue".*?</table>', page, re.S):
        assert "<thead>" in table and "<th " in table


def test_a_handoff_after_an_answer_did_not_help_says_so(chat: Chat) -> None:
    chat.consent("en")
    chat.send("Where can I apply for asylum?")
    chat.press("helped.no")
    chat.press("human")
    assert chat.conversation().handoff_reason == "not_helpful"


def test_a_handoff_when_asked_directly_says_asked(chat: Chat) -> None:
    chat.consent("en")
    chat.press("human")
    assert chat.conversation().handoff_reason == "asked"


def test_an_urgent_handoff_keeps_the_kind_of_emergency(chat: Chat) -> None:
    from bot.nlu import Match

    class SuicideMatcher:
        def match(self, text: str, lang: str | None = None) -> Match:
            return Match("urgent", 0.95, "en", "en", 0.95, True, (), urgent_kind="self_harm")

    chat.flows.matcher = SuicideMatcher()  # type: ignore[assignment]
    chat.send("i don't want to live anymore")
    conversation = chat.conversation()
    assert conversation.urgent and conversation.urgent_kind == "self_harm"


# --- composer ------------------------------------------------------------------------


def test_team_snippets_are_offered_in_the_persons_language_beside_the_staff_members(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = conversation_with(engine, settings, address="1", language="uk")
    held_by(engine, alice, conversation_id)

    page = alice.get(f"/console/conversations/{conversation_id}").text

    still_there = "Are you still there? If you still have a question, you can write it here."
    ukrainian = speaker(settings.locales_dir, "uk").gettext(still_there)
    assert ukrainian != still_there
    assert f'data-text="{ukrainian}"' in page
    assert f">{still_there}</button>" in page  # labelled in the staff member's language


def test_personal_snippets_are_each_staff_members_own(
    engine: Engine, settings: Settings, alice: Staff, bob: Staff
) -> None:
    conversation_id = conversation_with(engine, settings, address="1")
    held_by(engine, alice, conversation_id)

    response = alice.post(
        "/console/snippets", {"title": "Callback", "text": "We will call you back tomorrow."}
    )
    assert response.status_code == 303
    page = alice.get(f"/console/conversations/{conversation_id}").text
    assert 'data-text="We will call you back tomorrow."' in page
    assert "We will call you back tomorrow." not in bob.get("/console/snippets").text

    with Session(engine) as session:
        snippet = session.exec(select(StaffSnippet)).one()
    assert bob.post(f"/console/snippets/{snippet.id}/delete").status_code == 404
    assert alice.post(f"/console/snippets/{snippet.id}/delete").status_code == 303
    assert "We will call you back" not in alice.get("/console/snippets").text


# --- closing -------------------------------------------------------------------------


def selected_topic(page: str) -> str | None:
    close_form = page[page.index('class="close"') :]
    found = re.search(r'<option value="([^"]+)" selected>', close_form)
    return found.group(1) if found else None


def test_closing_is_prefilled_with_the_bots_topic_then_the_canned_answer_used(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = conversation_with(engine, settings, address="1", topic="asylum.apply")
    held_by(engine, alice, conversation_id)
    path = f"/console/conversations/{conversation_id}"
    assert selected_topic(alice.get(path).text) == "asylum.apply"

    add_message(
        engine,
        conversation_id,
        "...",
        sender=Sender.staff,
        staff_id=alice.id,
        topic="health.medical_care",
    )
    assert selected_topic(alice.get(path).text) == "health.medical_care"


def test_closing_warns_while_the_persons_last_message_is_unanswered(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = conversation_with(engine, settings, address="1")
    held_by(engine, alice, conversation_id)
    path = f"/console/conversations/{conversation_id}"
    warning = re.compile(r'<p class="warning unanswered" role="status">')

    assert warning.search(alice.get(path).text)
    add_message(engine, conversation_id, "Hello", sender=Sender.staff, staff_id=alice.id)
    assert not warning.search(alice.get(path).text)  # rendered hidden
    add_message(engine, conversation_id, "Thanks, one more thing")
    assert warning.search(alice.get(path).text)


def test_closing_can_send_a_closing_message_in_the_persons_language(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = conversation_with(engine, settings, address="1", language="ps")
    held_by(engine, alice, conversation_id)

    response = alice.post(
        f"/console/conversations/{conversation_id}/close",
        {"topic": "asylum.apply", "outcome": "answered", "closing_message": "true"},
    )

    assert response.status_code == 303
    with Session(engine) as session:
        sent = session.exec(
            select(Message).where(
                col(Message.conversation_id) == conversation_id,
                col(Message.direction) == Direction.outbound,
            )
        ).one()
        conversation = session.get(Conversation, conversation_id)
    assert conversation is not None and conversation.owner == Owner.closed
    assert conversation.first_response_at is None  # a closing message is not an answer
    assert sent.text == speaker(settings.locales_dir, "ps").gettext(CLOSING)
    assert sent.language == "ps" and sent.status == MessageStatus.queued
    assert sent.text != CLOSING
    title = canned.topic_titles(canned.knowledge(settings), "en")["asylum.apply"]
    owner = alice.get(f"/console/conversations/{conversation_id}").text
    status = owner[owner.index('<dd class="owner">') :]
    assert title in status[: status.index("</dd>")]


def test_closing_without_the_closing_message_sends_nothing(
    engine: Engine, settings: Settings, alice: Staff
) -> None:
    conversation_id = conversation_with(engine, settings, address="1")
    held_by(engine, alice, conversation_id)
    alice.post(
        f"/console/conversations/{conversation_id}/close",
        {"topic": "asylum.apply", "outcome": "answered"},
    )
    with Session(engine) as session:
        outbound = session.exec(
            select(Message).where(col(Message.direction) == Direction.outbound)
        ).all()
    assert outbound == []
