"""Small builders for console tests: staff users, contacts and conversations."""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlmodel import Session

from bot.config import Settings
from bot.conversations import get_or_create_contact
from bot.models import Conversation, Direction, Message, Owner, Sender, StaffUser, utcnow

# Cheap parameters keep tests fast; production uses argon2-cffi's defaults.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery staple"


def add_staff(
    session: Session, email: str, role: str = "staff", password: str = PASSWORD
) -> StaffUser:
    user = StaffUser(
        email=email,
        name=email.split("@")[0],
        role=role,
        password_hash=FAST_HASHER.hash(password),
        locale="en",
    )
    session.add(user)
    session.flush()
    return user


def add_conversation(
    session: Session,
    settings: Settings,
    *,
    address: str,
    channel: str = "telegram",
    language: str = "ps",
    owner: str = Owner.queue,
    urgent: bool = False,
    queued_at: datetime | None = None,
    text: str | None = None,
) -> Conversation:
    contact = get_or_create_contact(session, settings, channel, address)
    now = utcnow()
    conversation = Conversation(
        contact_id=contact.id,
        channel=channel,
        language=language,
        owner=owner,
        urgent=urgent,
        queued_at=queued_at or (now - timedelta(minutes=5) if owner == Owner.queue else None),
        handoff_reason="asked" if owner == Owner.queue else None,
    )
    session.add(conversation)
    session.flush()
    if text is not None:
        session.add(
            Message(
                conversation_id=conversation.id,
                channel=channel,
                direction=Direction.inbound,
                sender=Sender.user,
                text=text,
                language=language,
                provider_message_id=f"in-{conversation.id}",
            )
        )
        session.flush()
    return conversation
