"""Retention runs on its own: the worker's scheduled job deletes expired texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import worker
from bot.channels import build_channels
from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.models import Conversation, Message, Owner

# A fixture: this module's ``settings``, with both providers pointed at their fakes.
from tests.support.channels import settings_with_fake_providers  # noqa: F401

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _closed_conversation(engine: Engine, settings: Settings, days_ago: int) -> int:
    with Session(engine) as session:
        contact = get_or_create_contact(session, settings, "telegram", f"55500{days_ago}")
        conversation = Conversation(
            contact_id=contact.id or 0,
            channel="telegram",
            owner=Owner.closed,
            closed_at=NOW - timedelta(days=days_ago),
        )
        session.add(conversation)
        session.flush()
        session.add(
            Message(
                conversation_id=conversation.id or 0,
                channel="telegram",
                direction="in",
                sender="user",
                text="my interview is on Monday",
            )
        )
        session.commit()
        return conversation.id or 0


def _text(engine: Engine, conversation_id: int) -> str | None:
    with Session(engine) as session:
        return session.exec(
            select(Message.text).where(Message.conversation_id == conversation_id)
        ).one()


async def test_the_worker_deletes_texts_past_the_retention_period(
    engine: Engine, settings: Settings
) -> None:
    expired = _closed_conversation(engine, settings, settings.retention_days + 1)
    recent = _closed_conversation(engine, settings, settings.retention_days - 1)
    [job] = [job for job in worker.JOBS if job.name == "retention"]
    channels = build_channels(settings)

    purged = await worker.run_job(job, engine, settings, channels, now=NOW)
    await channels.aclose()

    assert purged == 1
    assert _text(engine, expired) is None
    assert _text(engine, recent) == "my interview is on Monday"
