"""Many people who wrote to the helpline before, stored directly (fast), for broadcasts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from bot import outbox
from bot.channels import Channels
from bot.config import LANGUAGES, Settings
from bot.db import session_scope
from bot.models import Contact, Conversation, Direction, Message, Owner, Sender, utcnow
from bot.privacy.addresses import address_hash, encrypt_address

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Person:
    contact_id: int
    conversation_id: int
    channel: str
    address: str
    language: str


def add_people(
    engine: Engine,
    settings: Settings,
    count: int,
    *,
    channel: str = "telegram",
    start: int = 0,
    languages: tuple[str, ...] = LANGUAGES,
    last_wrote: timedelta = timedelta(hours=1),
    topic: str | None = "asylum.apply",
    now: datetime | None = None,
) -> list[Person]:
    """People with consent, a language (in turn) and one closed conversation each."""
    now = now or utcnow()
    numbers = range(start, start + count)
    addresses = [
        f"{5550100000 + n}" if channel == "telegram" else f"whatsapp:+3247{n:07d}" for n in numbers
    ]
    with session_scope(engine) as session:
        contacts = [
            Contact(
                channel=channel,
                address_hash=address_hash(settings, channel, address),
                address_enc=encrypt_address(settings, address),
                language=languages[n % len(languages)],
                language_chosen=True,
                consent_at=now - 30 * DAY,
                last_inbound_at=now - last_wrote,
            )
            for n, address in zip(numbers, addresses, strict=True)
        ]
        session.add_all(contacts)
        session.flush()
        conversations = [
            Conversation(
                contact_id=contact.id or 0,
                channel=channel,
                language=contact.language,
                owner=Owner.closed,
                topic=topic,
                opened_at=now - last_wrote,
                closed_at=now - last_wrote,
            )
            for contact in contacts
        ]
        session.add_all(conversations)
        session.flush()
        session.add_all(
            Message(
                conversation_id=conversation.id or 0,
                channel=channel,
                direction=Direction.inbound,
                sender=Sender.user,
                text="a question",
                topic=topic,
                language=conversation.language,
                status="handled",
                provider_message_id=f"in-{channel}-{n}",
                created_at=now - last_wrote,
            )
            for n, conversation in zip(numbers, conversations, strict=True)
        )
        people = [
            Person(c.id or 0, v.id or 0, channel, address, c.language or "")
            for c, v, address in zip(contacts, conversations, addresses, strict=True)
        ]
    return people


def run_broadcast_job(engine: Engine, settings: Settings, now: datetime) -> int:
    """Queue every due broadcast's recipients (the worker's job, until it has nothing left)."""
    from bot.broadcasts.sending import queue_due

    rounds = 0
    while queue_due(engine, settings, now=now):
        rounds += 1
        assert rounds < 1000
    return rounds


def pending(engine: Engine) -> list[Message]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Message).where(
                    Message.direction == Direction.outbound,
                    col(Message.status).in_(["queued", "sending"]),
                )
            ).all()
        )


async def drain(
    engine: Engine, settings: Settings, channels: Channels, now: datetime, rounds: int = 500
) -> datetime:
    """Run the outbox until nothing is due, moving the clock past every backoff."""
    for _ in range(rounds):
        sent = await outbox.send_due(engine, settings, now=now, channels=channels)
        if sent:
            continue
        left = pending(engine)
        if not left:
            return now
        now = max(m.next_attempt_at or now for m in left) + timedelta(seconds=1)
    raise AssertionError("the outbox did not drain")
