"""The learning inbox: which messages the bot failed, grouped, and what staff decide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.kb import inbox, store
from bot.models import (
    AuditEntry,
    Conversation,
    KbInboxDecision,
    KbRevision,
    KbStaffExample,
    Message,
    Owner,
)
from bot.privacy.erasure import erase_contact
from tests.support.factories import add_staff
from tests.support.flows import SAMPLES, Chat

UNKNOWN_PS = "زما د کار اجازه لیک کله راځي؟"  # when does my work permit letter come?


def texts(session: Session) -> dict[str, str]:
    return {f.text: f.reason for f in inbox.failed_messages(session)}


def test_an_abstained_message_is_in_the_inbox_and_a_button_or_an_answer_is_not(
    chat: Chat, engine: Engine
) -> None:
    chat.consent("ps")
    chat.send(UNKNOWN_PS)
    chat.send(SAMPLES["ps"]["question"])

    with Session(engine) as session:
        found = inbox.failed_messages(session)
    assert [(f.text, f.reason, f.language) for f in found] == [(UNKNOWN_PS, inbox.ABSTAINED, "ps")]


def test_an_urgent_message_never_enters_the_inbox(chat: Chat, engine: Engine) -> None:
    chat.consent("en")
    chat.send("How much is a bus to the moon?")
    chat.send(SAMPLES["en"]["urgent"])
    chat.send("Something else nobody understands")

    with Session(engine) as session:
        assert texts(session) == {}  # the conversation is urgent: all of it is for staff


def test_a_no_to_did_this_help_brings_the_question_it_answered(chat: Chat, engine: Engine) -> None:
    chat.consent("nl")
    chat.send(SAMPLES["nl"]["question"])
    chat.press("helped.no")

    with Session(engine) as session:
        found = inbox.failed_messages(session)
    assert [(f.text, f.reason, f.bot_topic) for f in found] == [
        (SAMPLES["nl"]["question"], inbox.NOT_HELPFUL, "asylum.apply")
    ]


def test_a_yes_to_did_this_help_brings_nothing(chat: Chat, engine: Engine) -> None:
    chat.consent("nl")
    chat.send(SAMPLES["nl"]["question"])
    chat.press("helped.yes")
    with Session(engine) as session:
        assert texts(session) == {}


def close_as_staff(engine: Engine, conversation_id: int, topic: str) -> None:
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.owner, conversation.topic = Owner.closed, topic
        conversation.outcome, conversation.closed_at = "answered", datetime.now(UTC)
        session.add(conversation)
        session.commit()


def test_a_conversation_staff_closed_with_another_topic_brings_the_bots_answer(
    chat: Chat, engine: Engine
) -> None:
    chat.consent("fr")
    chat.send(SAMPLES["fr"]["question"])
    conversation_id = chat.conversation().id
    assert conversation_id is not None

    close_as_staff(engine, conversation_id, "asylum.apply.registration")  # a child: the same
    with Session(engine) as session:
        assert texts(session) == {}

    close_as_staff(engine, conversation_id, "reception.no_place")
    with Session(engine) as session:
        found = inbox.failed_messages(session)
    assert [(f.text, f.reason, f.bot_topic, f.staff_topic) for f in found] == [
        (SAMPLES["fr"]["question"], inbox.CLOSED_OTHER, "asylum.apply", "reception.no_place")
    ]
    assert inbox.group(found)[0].suggested_topic == "reception.no_place"


def test_an_erased_conversations_messages_leave_the_inbox(chat: Chat, engine: Engine) -> None:
    chat.consent("ps")
    chat.send(UNKNOWN_PS)
    with Session(engine) as session:
        assert texts(session) == {UNKNOWN_PS: inbox.ABSTAINED}
        contact_id = chat.contact_id(session)
        assert contact_id is not None
        erase_contact(session, contact_id)
        session.commit()
    with Session(engine) as session:
        assert texts(session) == {}


def test_a_text_emptied_by_retention_leaves_the_inbox(chat: Chat, engine: Engine) -> None:
    chat.consent("ps")
    chat.send(UNKNOWN_PS)
    with Session(engine) as session:
        for message in session.exec(select(Message)):
            message.text = None  # what bot.privacy.retention.purge_expired does
            session.add(message)
        session.commit()
        assert texts(session) == {}


# --- grouping ------------------------------------------------------------------------


def failed(message_id: int, text: str, language: str, minutes: int = 0) -> inbox.Failed:
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return inbox.Failed(message_id, 1, text, language, inbox.ABSTAINED, at)


def test_rewordings_of_one_question_group_together_per_language_newest_first() -> None:
    groups = inbox.group(
        [
            failed(1, "Waar kan ik mijn werkvergunning aanvragen?", "nl", 1),
            failed(2, "Hoeveel kost een buskaart naar Gent?", "nl", 2),
            failed(3, "waar werkvergunning aanvragen", "nl", 3),
            failed(4, "Where can I apply for a work permit?", "en", 4),
            failed(5, "زما د کار اجازه لیک کله راځي؟", "ps", 5),
            failed(6, "زما د کار اجازه لیک کله راځي", "ps", 6),
        ]
    )
    assert [(g.language, [m.message_id for m in g.messages]) for g in groups] == [
        ("ps", [6, 5]),
        ("en", [4]),
        ("nl", [3, 1]),
        ("nl", [2]),
    ]
    assert [g.count for g in groups] == [2, 1, 2, 1]


def test_similarity_is_high_for_a_rewording_and_low_for_another_question() -> None:
    same = inbox.similarity("Де можна отримати дозвіл на роботу?", "дозвіл на роботу де отримати")
    other = inbox.similarity("Де можна отримати дозвіл на роботу?", "Скільки коштує квиток?")
    assert same > inbox.SIMILAR > other


# --- personal details ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "My name is John Smith, call me on +32 471 12 34 56",
            "My name is …, call me on …",
        ),
        (
            "Mijn naam is Fatima, ik woon in de Kerkstraat 12, mail fatima.k@example.org",
            "Mijn naam is …, ik woon in de …, mail …",
        ),
        (
            "Je m'appelle Ahmad, j'habite rue de la Loi 16 à Bruxelles",
            "Je m'appelle …, j'habite … à Bruxelles",
        ),
        (
            "Мене звати Олена, живу на вулиці Шевченка 5, мій номер 0471123456",
            "Мене звати …, живу на …, мій номер …",
        ),
        ("زما نوم احمد دی او زما شمیره ۰۴۷۱۲۳۴۵۶۷ ده", "زما نوم … دی او زما شمیره … ده"),
        ("نام من مریم است و در خیابان لویس ۲۳ زندگی می کنم", "نام من … است و در … زندگی می کنم"),
        ("I live at 5 Main Street, my file is OV1234567", "I live at …, my file is …"),
        ("I have 3 children, where do we sleep?", "I have 3 children, where do we sleep?"),
        ("Waar kan ik asiel aanvragen in Brussel?", "Waar kan ik asiel aanvragen in Brussel?"),
    ],
)
def test_personal_details_are_stripped_in_several_scripts(text: str, expected: str) -> None:
    assert inbox.strip_personal(text) == expected


# --- decisions -----------------------------------------------------------------------


@pytest.fixture
def kb(engine: Engine, chat: Chat) -> None:
    with Session(engine) as session:
        if store.is_empty(session):
            store.import_directory(session, chat.settings.knowledge_dir)
        add_staff(session, "edith@example.org", "editor")
        session.commit()


def editor(session: Session):  # type: ignore[no-untyped-def]
    from bot.models import StaffUser

    return session.exec(select(StaffUser).where(StaffUser.email == "edith@example.org")).one()


def test_adding_an_example_makes_a_draft_and_takes_the_message_out(
    kb: None, chat: Chat, engine: Engine
) -> None:
    chat.consent("ps")
    chat.send(UNKNOWN_PS)
    with Session(engine) as session:
        [message] = inbox.failed_messages(session)
        revision = inbox.add_example(
            session,
            [message.message_id],
            "asylum.apply",
            "ps",
            "د کار اجازه لیک کله راځي؟",
            editor(session),
        )
        session.commit()
        assert revision.status == "draft"
        assert "د کار اجازه لیک کله راځي؟" in revision.content
        assert inbox.failed_messages(session) == []
        decision = session.get(KbInboxDecision, message.message_id)
        assert decision is not None and decision.outcome == "added"
        assert [e.text for e in session.exec(select(KbStaffExample))] == [
            "د کار اجازه لیک کله راځي؟"
        ]


def test_drafting_a_new_topic_keeps_the_examples_and_leaves_title_and_answer_to_write(
    kb: None, chat: Chat, engine: Engine
) -> None:
    chat.consent("ps")
    chat.send(UNKNOWN_PS)
    with Session(engine) as session:
        [message] = inbox.failed_messages(session)
        revision = inbox.draft_topic(
            session,
            [message.message_id],
            "work.permit_letter",
            "ps",
            ["د کار اجازه لیک کله راځي؟", "  "],
            editor(session),
        )
        session.commit()
        assert revision.topic_id == "work.permit_letter" and revision.status == "draft"
        assert "title: ''" in revision.content and "د کار اجازه لیک کله راځي؟" in revision.content
        with pytest.raises(store.KbEditError):  # no title, no answer: not publishable yet
            store.publish(session, revision.id or 0, "system:test")
        session.rollback()
        decision = session.get(KbInboxDecision, message.message_id)
        assert decision is not None and decision.outcome == "drafted"
        with pytest.raises(store.KbEditError):
            inbox.draft_topic(session, [], "asylum.apply", "ps", ["x"], editor(session))


def test_dismissing_is_audited_and_a_message_is_decided_once(
    kb: None, chat: Chat, engine: Engine
) -> None:
    chat.consent("ps")
    chat.send(UNKNOWN_PS)
    with Session(engine) as session:
        [message] = inbox.failed_messages(session)
        staff = editor(session)
        assert inbox.dismiss(session, [message.message_id], staff) == [message.message_id]
        assert inbox.dismiss(session, [message.message_id, 999_999], staff) == []
        session.commit()
        assert inbox.failed_messages(session) == []
        entries = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "kb_inbox_dismiss")
        ).all()
        assert [(e.staff_id, e.target) for e in entries] == [
            (staff.id, f"message:{message.message_id}")
        ]
        assert session.exec(select(KbRevision).where(KbRevision.status == "draft")).all() == []
