"""Everything kept about one person, for a data-subject access request.

That includes what they asked before answering the privacy notice, which waits on the
contact (not in a message) to be answered afterwards: ``pending_question``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.config import Settings
from bot.models import Broadcast, BroadcastRecipient, Contact, Conversation, Message
from bot.privacy.addresses import decrypt_address


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
            "pending_question": (contact.flow_data or {}).get("pending"),
            "broadcasts_opted_out_at": _iso(contact.broadcasts_opted_out_at),
        },
        "broadcasts": [
            {
                "broadcast": recipient.broadcast_id,
                "at": _iso(recipient.queued_at),
                "language": recipient.language,
                "text": broadcast.texts.get(recipient.language or ""),
                "status": recipient.status,
            }
            for recipient, broadcast in session.exec(
                select(BroadcastRecipient, Broadcast)
                .join(Broadcast, col(Broadcast.id) == BroadcastRecipient.broadcast_id)
                .where(BroadcastRecipient.contact_id == contact_id)
                .order_by(col(BroadcastRecipient.id))
            ).all()
        ],
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
