"""A person who writes again soon after a staff member closed their conversation goes
back to that staff member, and is not asked the privacy question again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot import handoff
from bot.config import LANGUAGES
from bot.i18n import speaker, strip_isolates
from bot.models import Conversation, Owner, StaffUser
from tests.support.factories import add_staff
from tests.support.flows import SAMPLES, SATURDAY, Chat

BACK_WITH_STAFF = (
    "The staff member who helped you before has your message and will answer you here as "
    "soon as possible. You can keep writing: we read everything."
)


def helped_by_staff(chat: Chat, engine: Engine, lang: str, email: str = "alice@example.org") -> int:
    """The person asks for a person; a staff member takes, answers and closes it."""
    chat.consent(lang)
    chat.send(SAMPLES[lang]["human"])
    with Session(engine) as session:
        user = add_staff(session, email)
        conversation_id = chat.conversation().id
        assert user.id is not None and conversation_id is not None
        assert handoff.claim(session, conversation_id, user.id, chat.now)
        assert handoff.close(
            session, conversation_id, user.id, "asylum.apply", "answered", chat.now
        )
        session.commit()
        return user.id


def said(chat: Chat, lang: str, message: str) -> str:
    return strip_isolates(speaker(chat.settings.locales_dir, lang).gettext(message))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_person_writing_again_goes_back_to_the_staff_member_who_helped(
    chat: Chat, engine: Engine, lang: str
) -> None:
    alice = helped_by_staff(chat, engine, lang)
    chat.now += timedelta(hours=2)  # still within opening hours

    reply = chat.send(SAMPLES[lang]["question"])

    assert [r.text for r in reply] == [said(chat, lang, BACK_WITH_STAFF)]
    assert said(chat, lang, BACK_WITH_STAFF) != BACK_WITH_STAFF or lang == "en"
    conversation = chat.conversation()
    assert (conversation.owner, conversation.assignee_id) == (Owner.staff, alice)
    assert conversation.handoff_reason == handoff.RETURNED
    assert conversation.queued_at is not None and conversation.claimed_at is not None


def test_the_returning_person_is_not_asked_the_privacy_question_again(
    chat: Chat, engine: Engine
) -> None:
    helped_by_staff(chat, engine, "ps")
    agreed_at = chat.contact().consent_at
    chat.now += timedelta(hours=1)

    reply = chat.send(SAMPLES["ps"]["question"])

    assert all("consent.yes" not in r.payloads for r in reply)
    assert chat.contact().consent_at == agreed_at


def test_asking_for_a_person_again_also_goes_to_the_same_staff_member(
    chat: Chat, engine: Engine
) -> None:
    alice = helped_by_staff(chat, engine, "nl")
    chat.now += timedelta(hours=1)

    chat.send(SAMPLES["nl"]["human"])

    assert (chat.conversation().owner, chat.conversation().assignee_id) == (Owner.staff, alice)


def test_after_the_configured_time_the_bot_answers_as_for_anyone(
    chat: Chat, engine: Engine
) -> None:
    chat.settings.return_to_staff_hours = 72
    helped_by_staff(chat, engine, "en")
    chat.now += timedelta(hours=73)

    reply = chat.send(SAMPLES["en"]["question"])

    assert reply[-1].payloads == ["helped.yes", "helped.no", "human"]  # the bot's answer
    assert chat.conversation().owner == Owner.bot


def test_zero_hours_turns_returning_off(chat: Chat, engine: Engine) -> None:
    chat.settings.return_to_staff_hours = 0
    helped_by_staff(chat, engine, "en")
    chat.now += timedelta(minutes=5)

    chat.send(SAMPLES["en"]["human"])

    assert chat.conversation().owner == Owner.queue


def test_a_deactivated_staff_member_gets_nobody_back(chat: Chat, engine: Engine) -> None:
    alice = helped_by_staff(chat, engine, "en")
    with Session(engine) as session:
        user = session.get(StaffUser, alice)
        assert user is not None
        user.active = False
        session.add(user)
        session.commit()
    chat.now += timedelta(hours=1)

    chat.send(SAMPLES["en"]["human"])

    assert (chat.conversation().owner, chat.conversation().assignee_id) == (Owner.queue, None)


def test_an_emergency_on_return_goes_to_the_top_of_the_queue_with_the_numbers(
    chat: Chat, engine: Engine
) -> None:
    helped_by_staff(chat, engine, "fa")
    chat.now += timedelta(hours=1)

    reply = chat.send(SAMPLES["fa"]["urgent"])

    assert "112" in reply[0].text
    conversation = chat.conversation()
    assert (conversation.owner, conversation.urgent, conversation.assignee_id) == (
        Owner.queue,
        True,
        None,
    )


def test_a_thank_you_after_the_close_is_answered_by_the_bot(chat: Chat, engine: Engine) -> None:
    helped_by_staff(chat, engine, "uk")
    chat.now += timedelta(minutes=10)

    reply = chat.send(SAMPLES["uk"]["thanks"])

    assert reply
    assert chat.conversation().owner == Owner.bot


def test_outside_opening_hours_the_person_hears_when_staff_are_back(
    chat: Chat, engine: Engine
) -> None:
    chat.now = SATURDAY - timedelta(hours=30)  # Friday morning: open
    alice = helped_by_staff(chat, engine, "en")
    chat.now = SATURDAY

    reply = chat.send(SAMPLES["en"]["question"])

    assert len(reply) == 1
    assert "42" in reply[0].text and "112" in reply[0].text  # back Monday 9:00
    assert (chat.conversation().owner, chat.conversation().assignee_id) == (Owner.staff, alice)


def test_a_conversation_closed_by_the_bot_does_not_send_anyone_back(
    chat: Chat, engine: Engine
) -> None:
    chat.consent("en")
    chat.send(SAMPLES["en"]["question"])
    with Session(engine) as session:
        conversation = session.get(Conversation, chat.conversation().id)
        assert conversation is not None
        conversation.owner, conversation.closed_at = Owner.closed, chat.now
        session.add(conversation)
        session.commit()
    chat.now += timedelta(hours=1)

    chat.send(SAMPLES["en"]["human"])

    assert chat.conversation().owner == Owner.queue
