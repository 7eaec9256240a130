"""Retention and erasure, with a clock the tests control."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.models import AuditEntry, ContactRecord, Conversation, Message, Owner, WebchatStart
from bot.privacy.erasure import erase_contact
from bot.privacy.export import export_contact
from bot.privacy.retention import purge_expired, purge_job
from bot.stats.records import sync_record

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
