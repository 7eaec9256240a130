"""Keeping as little as possible, for as short as possible.

Message texts and media references are deleted ``HELPLINE_RETENTION_DAYS`` after their
conversation closed (a person can have everything erased at once: ``erasure``). The anonymous
contact records stay: they are what the yearly report counts. The keyed hashes of web
chat clients (``webchat_start``) go once the hour their limit looks back on is over.

The first question a person asked before answering the privacy notice is kept on their
contact (``flow_data``), not in a message; it goes when the conversation closes
(``conversations.forget_flow_state``), and the purge clears whatever a closed
conversation left there all the same, unless the person is writing in a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.conversations import forget_flow_state
from bot.db import session_scope
from bot.models import Contact, Conversation, Message, Owner, WebchatStart
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
    _forget_flow_state_left_behind(session, ids)
    return len(ids)


def _forget_flow_state_left_behind(session: Session, purged: Sequence[int | None]) -> None:
    """Clear the flow state of the purged conversations' contacts, unless they have an
    open conversation (then it is that conversation's)."""
    # Locked first, skipping contacts a message is being stored for (they have an open
    # conversation, or get a new one, which starts without the old state); the open
    # conversations are then read after the lock, so none opened meanwhile is missed.
    contacts = session.exec(
        select(Contact)
        .where(
            col(Contact.id).in_(
                select(Conversation.contact_id).where(col(Conversation.id).in_(purged))
            )
        )
        .with_for_update(skip_locked=True)
    ).all()
    writing = set(
        session.exec(
            select(Conversation.contact_id).where(
                col(Conversation.contact_id).in_([c.id for c in contacts]),
                Conversation.owner != Owner.closed,
            )
        ).all()
    )
    for contact in contacts:
        if contact.id not in writing and (contact.flow_data or contact.flow):
            forget_flow_state(contact)
            session.add(contact)


def purge_job(engine: Engine, settings: Settings, *, now: datetime) -> int:
    """The scheduled form of ``purge_expired``, for the worker (idempotent)."""
    with session_scope(engine) as session:
        return purge_expired(session, settings, now=now)
