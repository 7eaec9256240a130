"""Keeping as little as possible, for as short as possible.

Message texts and media references are deleted ``HELPLINE_RETENTION_DAYS`` after their
conversation closed (a person can have everything erased at once: ``erasure``). The anonymous
contact records stay: they are what the yearly report counts. The keyed hashes of web
chat clients (``webchat_start``) go once the hour their limit looks back on is over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.db import session_scope
from bot.models import Conversation, Message, Owner, WebchatStart
from bot.ops.ratelimit import NewChatLimit


def purge_expired(session: Session, settings: Settings, *, now: datetime) -> int:
    """Delete texts and media of conversations closed before the retention period.

    Returns how many conversations were purged.
    """
    session.exec(
        delete(WebchatStart).where(col(WebchatStart.started_at) <= now - NewChatLimit.window)
    )
    cutoff = now - timedelta(days=settings.retention_days)
    ids = session.exec(
        select(Conversation.id).where(
            Conversation.owner == Owner.closed,
            col(Conversation.closed_at) < cutoff,
            col(Conversation.purged_at).is_(None),
        )
    ).all()
    if not ids:
        return 0
    session.exec(
        update(Message)
        .where(col(Message.conversation_id).in_(ids))
        .values(text=None, media_ref=None, buttons=None)
    )
    session.exec(update(Conversation).where(col(Conversation.id).in_(ids)).values(purged_at=now))
    return len(ids)


def purge_job(engine: Engine, settings: Settings, *, now: datetime) -> int:
    """The scheduled form of ``purge_expired``, for the worker (idempotent)."""
    with session_scope(engine) as session:
        return purge_expired(session, settings, now=now)
