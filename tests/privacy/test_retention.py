"""Retention and erasure, with a clock the tests control."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from bot.config import Settings
from bot.conversations import close_idle, get_or_create_contact
from bot.dialogue.engine import FlowEngine, load_flows
from bot.hours import OpeningHours
from bot.models import (
    AuditEntry,
    Contact,
    ContactRecord,
    Conversation,
    Message,
    Owner,
    WebchatStart,
    utcnow,
)
from bot.nlu.knowledge import get_knowledge
from bot.privacy.erasure import erase_contact
from bot.privacy.export import export_contact
from bot.privacy.retention import purge_expired, purge_job
from bot.stats.records import sync_record
from tests.support.flows import SAMPLES, Chat, FakeMatcher
from tests.support.staff import make_staff

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _conversation(
    session: Session, settings: Settings, address: str, *, closed_days_ago: int | None
) -> Conversation:
    contact = get_or_create_contact(session, settings, "whatsapp", address)
    conversation = Conversation(
        contact_id=contact.id, channel="whatsapp", language="fa", topic="asylum.interview"
    )
    if closed_days_ago is not None:
        conversation.owner = Owner.closed
        conversation.closed_at = NOW - timedelta(days=closed_days_ago)
    session.add(conversation)
    session.flush()
    session.add(
        Message(
            conversation_id=conversation.id,
            channel="whatsapp",
            direction="in",
            sender="user",
            text="سلام، مصاحبه من کی است؟",
            media_type="audio/ogg",
            media_ref="https://api.twilio.com/media/ME1",
        )
    )
    sync_record(session, conversation)
    return conversation


def _texts(session: Session, conversation: Conversation) -> list[str | None]:
    return [
        m.text
        for m in session.exec(
            select(Message).where(Message.conversation_id == conversation.id)
        ).all()
    ]


def test_texts_are_deleted_after_the_retention_period_and_records_stay(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        old = _conversation(session, settings, "whatsapp:+32470000001", closed_days_ago=91)
        recent = _conversation(session, settings, "whatsapp:+32470000002", closed_days_ago=89)
        still_open = _conversation(session, settings, "whatsapp:+32470000003", closed_days_ago=None)
        session.commit()

        assert purge_expired(session, settings, now=NOW) == 1
        session.commit()

        assert _texts(session, old) == [None]
        assert _texts(session, recent) == ["سلام، مصاحبه من کی است؟"]
        assert _texts(session, still_open) == ["سلام، مصاحبه من کی است؟"]
        media = session.exec(select(Message.media_ref).where(Message.conversation_id == old.id))
        assert media.all() == [None]
        assert len(session.exec(select(ContactRecord)).all()) == 3
        # Running again finds nothing new.
        assert purge_expired(session, settings, now=NOW) == 0


def test_erasing_a_person_keeps_only_the_anonymous_record(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        conversation = _conversation(session, settings, "whatsapp:+32470000009", closed_days_ago=1)
        session.commit()
        exported = export_contact(session, settings, conversation.contact_id)
        assert exported["contact"]["address"] == "whatsapp:+32470000009"
        assert exported["conversations"][0]["messages"][0]["text"].startswith("سلام")

        assert erase_contact(session, conversation.contact_id)
        session.commit()

        assert session.exec(select(Message)).all() == []
        assert session.exec(select(Conversation)).all() == []
        record = session.exec(select(ContactRecord)).one()
        assert (record.channel, record.language, record.topic) == (
            "whatsapp",
            "fa",
            "asylum.interview",
        )
        assert record.conversation_id is None


def test_the_cli_exports_and_erases_a_person_asked_for_by_phone(
    engine: Engine, settings: Settings, database_url: str
) -> None:
    with Session(engine) as session:
        _conversation(session, settings, "whatsapp:+32470000042", closed_days_ago=1)
        session.commit()
    env = {
        **os.environ,
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_SECRET_KEY": settings.secret_key,
    }
    args = ["--channel", "whatsapp", "--address", "whatsapp:+32470000042"]
    cli = [sys.executable, "-m", "bot.cli"]
    exported = subprocess.run(
        [*cli, "contact", "export", *args], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(exported.stdout)["conversations"][0]["topic"] == "asylum.interview"
    erased = subprocess.run(
        [*cli, "contact", "erase", *args, "--yes"], env=env, capture_output=True, text=True
    )
    assert erased.returncode == 0, erased.stderr
    again = subprocess.run(
        [*cli, "contact", "export", *args], env=env, capture_output=True, text=True
    )
    assert again.returncode == 1
    assert "no data is kept" in again.stderr
    with Session(engine) as session:
        audited = session.exec(select(AuditEntry.action, AuditEntry.detail)).all()
    assert sorted(audited) == [
        ("erase", "helpline contact erase"),
        ("export", "helpline contact export"),
    ]


def test_the_scheduled_job_purges_on_its_own(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        _conversation(session, settings, "whatsapp:+32470000077", closed_days_ago=120)
        session.commit()
    assert purge_job(engine, settings, now=NOW) == 1
    assert purge_job(engine, settings, now=NOW) == 0


def test_web_chat_client_hashes_go_once_their_hour_is_over(
    engine: Engine, settings: Settings
) -> None:
    """Nobody starting a chat for a while must not keep the last hour's hashes for ever."""
    with Session(engine) as session:
        for minutes_ago in (200, 61, 59, 1):
            session.add(
                WebchatStart(
                    client_hash=f"client-{minutes_ago}",
                    started_at=NOW - timedelta(minutes=minutes_ago),
                )
            )
        session.commit()

    purge_job(engine, settings, now=NOW)

    with Session(engine) as session:
        kept = sorted(session.exec(select(WebchatStart.client_hash)).all())
    assert kept == ["client-1", "client-59"]


# --- what was asked before the privacy answer ------------------------------------------

# The person's first question, kept on the contact (``flow_data["pending"]``) until they
# answer the privacy notice, so that it can be answered afterwards.
FIRST_QUESTION = "Mijn broer Karimullah zit vast in Calais bij de haven, wat moet ik doen?"
THEIR_WORDS = ("Karimullah", "Calais", "haven")


def chat_of(engine: Engine, settings: Settings) -> Chat:
    flows = FlowEngine(
        settings,
        load_flows(settings.flows_dir),
        get_knowledge(settings),
        FakeMatcher(),
        OpeningHours.from_settings(settings),
    )
    return Chat(engine, settings, flows, channel="whatsapp", address="whatsapp:+32470000555")


def stored_texts(engine: Engine) -> Iterator[tuple[str, str]]:
    """(table.column, value) of every text and JSON value in every table of the models.

    The tables and columns come from the models' metadata, so a column added later is
    scanned too: any whose values are text, or JSON objects and arrays.
    """
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                try:
                    kind = column.type.python_type
                except NotImplementedError:
                    kind = object  # a type without a Python equivalent: scanned as text
                if kind not in (str, dict, list, object):
                    continue
                for value in connection.execute(sa.select(column)).scalars():
                    if value is None:
                        continue
                    if not isinstance(value, str):
                        value = json.dumps(value, ensure_ascii=False, default=str)
                    yield f"{table.name}.{column.name}", value


def words_kept(engine: Engine) -> list[str]:
    return [where for where, text in stored_texts(engine) if any(w in text for w in THEIR_WORDS)]


def test_the_scan_finds_the_words_wherever_they_are_kept(
    engine: Engine, settings: Settings
) -> None:
    chat = chat_of(engine, settings)
    chat.send(FIRST_QUESTION)

    assert sorted(set(words_kept(engine))) == ["contact.flow_data", "message.text"]


def test_after_an_idle_close_and_the_purge_nothing_of_the_first_question_is_kept(
    engine: Engine, settings: Settings
) -> None:
    chat = chat_of(engine, settings)
    notice = chat.send(FIRST_QUESTION)  # the privacy notice; the question waits for an answer
    assert notice[-1].payloads == ["consent.yes", "consent.no", "language"]
    assert chat.contact().flow_data == {"pending": FIRST_QUESTION}

    closed_at = chat.now + timedelta(hours=25)
    assert close_idle(engine, settings, now=closed_at) == 1
    assert chat.contact().flow_data == {}  # it went with the conversation

    assert purge_job(engine, settings, now=closed_at + timedelta(days=91)) == 1
    assert words_kept(engine) == []


def test_after_a_staff_close_and_the_purge_nothing_of_the_first_question_is_kept(
    engine: Engine, settings: Settings, app: FastAPI
) -> None:
    settings.run_worker = False
    chat = chat_of(engine, settings)
    chat.send(FIRST_QUESTION)
    danger = chat.send(SAMPLES["nl"]["urgent"])  # emergency numbers, and the queue at once
    assert "112" in danger[0].text
    assert chat.contact().flow_data == {"pending": FIRST_QUESTION}  # still not agreed
    conversation_id = chat.conversation().id
    staff = make_staff(engine, app, "alice@example.org").login()

    assert staff.post(f"/console/conversations/{conversation_id}/claim").status_code == 303
    closed = staff.post(
        f"/console/conversations/{conversation_id}/close",
        {"topic": "other", "outcome": "referred"},
    )
    assert closed.status_code == 303
    assert chat.contact().flow_data == {}

    assert purge_job(engine, settings, now=utcnow() + timedelta(days=91)) == 1
    assert words_kept(engine) == []
    staff.client.close()


def test_the_purge_clears_a_first_question_a_closed_conversation_left_behind(
    engine: Engine, settings: Settings
) -> None:
    """Closed before this release, or by a path that forgot it: the purge is the backstop."""
    with Session(engine) as session:
        left = _conversation(session, settings, "whatsapp:+32470000061", closed_days_ago=91)
        left_contact = session.get(Contact, left.contact_id)
        assert left_contact is not None
        left_contact.flow_data = {"pending": FIRST_QUESTION}
        # Someone else's old conversation is purged too, but they are writing again now:
        # their new conversation's first question stays, to be answered.
        old = _conversation(session, settings, "whatsapp:+32470000062", closed_days_ago=91)
        again = Conversation(contact_id=old.contact_id, channel="whatsapp", language="nl")
        writing = session.get(Contact, old.contact_id)
        assert writing is not None
        writing.flow_data = {"pending": "Is er nog plaats in de opvang?"}
        session.add_all([left_contact, again, writing])
        session.commit()
        left_id, writing_id = left_contact.id, writing.id

    assert purge_job(engine, settings, now=NOW) == 2

    assert words_kept(engine) == []
    with Session(engine) as session:
        assert session.get(Contact, left_id).flow_data == {}  # type: ignore[union-attr]
        kept = session.get(Contact, writing_id)
        assert kept is not None and kept.flow_data == {"pending": "Is er nog plaats in de opvang?"}


def test_the_export_includes_the_first_question_while_it_is_kept(
    engine: Engine, settings: Settings
) -> None:
    chat = chat_of(engine, settings)
    chat.send(FIRST_QUESTION)

    with Session(engine) as session:
        exported = export_contact(session, settings, chat.contact().id or 0)

    assert exported["contact"]["pending_question"] == FIRST_QUESTION
