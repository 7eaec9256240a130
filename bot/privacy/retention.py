"""Keeping as little as possible, for as short as possible.

Message texts and media references are deleted ``HELPLINE_RETENTION_DAYS`` after their
conversation closed; a person can have everything erased at once. The anonymous
contact records stay: they are what the yearly report counts. The keyed hashes of web
chat clients (``webchat_start``) go once the hour their limit looks back on is over.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.db import session_scope
from bot.models import Contact, ContactRecord, Conversation, Message, Owner, WebchatStart
from bot.ops.ratelimit import NewChatLimit
from bot.privacy.addresses import decrypt_address


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


def erase_contact(session: Session, contact_id: int) -> bool:
    """Erase a person: their contact, conversations and messages.

    Contact records keep only what is anonymous (channel, language, topic, times).
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        return False
    conversation_ids = session.exec(
        select(Conversation.id).where(Conversation.contact_id == contact_id)
    ).all()
    if conversation_ids:
        session.exec(
            update(ContactRecord)
            .where(col(ContactRecord.conversation_id).in_(conversation_ids))
            .values(conversation_id=None)
        )
        session.exec(delete(Message).where(col(Message.conversation_id).in_(conversation_ids)))
        session.exec(delete(Conversation).where(col(Conversation.id).in_(conversation_ids)))
    session.delete(contact)
    return True


def export_contact(session: Session, settings: Settings, contact_id: int) -> dict[str, Any]:
    """Everything kept about a person, for a data-subject access request."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise LookupError(contact_id)
    conversations = session.exec(
        select(Conversation)
        .where(Conversation.contact_id == contact_id)
        .order_by(col(Conversation.id))
    ).all()
    return {
        "contact": {
            "channel": contact.channel,
            "address": decrypt_address(settings, contact.address_enc),
            "language": contact.language,
            "consent_at": _iso(contact.consent_at),
            "created_at": _iso(contact.created_at),
        },
        "conversations": [
            {
                "opened_at": _iso(conversation.opened_at),
                "closed_at": _iso(conversation.closed_at),
                "topic": conversation.topic,
                "messages": [
                    {
                        "at": _iso(message.created_at),
                        "direction": message.direction,
                        "sender": message.sender,
                        "text": message.text,
                        "media_type": message.media_type,
                    }
                    for message in session.exec(
                        select(Message)
                        .where(Message.conversation_id == conversation.id)
                        .where(Message.direction != "note")
                        .order_by(col(Message.id))
                    ).all()
                ],
            }
            for conversation in conversations
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def purge_job(engine: Engine, settings: Settings, *, now: datetime) -> int:
    """The scheduled form of ``purge_expired``, for the worker (idempotent)."""
    with session_scope(engine) as session:
        return purge_expired(session, settings, now=now)
