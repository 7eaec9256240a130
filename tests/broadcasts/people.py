"""Many people who wrote to the helpline before, stored directly (fast), for broadcasts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert
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
    ago = now - last_wrote
    langs = [languages[n % len(languages)] for n in numbers]
    with session_scope(engine) as session:
        # Core inserts: no contact records (the statistics play no part here), and fast.
        contact_ids = list(
            session.scalars(
                insert(Contact).returning(Contact.id, sort_by_parameter_order=True),
                [
                    {
                        "channel": channel,
                        "address_hash": address_hash(settings, channel, address),
                        "address_enc": encrypt_address(settings, address),
                        "language": lang,
                        "language_chosen": True,
                        "consent_at": now - 30 * DAY,
                        "last_inbound_at": ago,
                        "flow_data": {},
                        "blocked": False,
                        "created_at": ago,
                    }
                    for address, lang in zip(addresses, langs, strict=True)
                ],
            )
        )
        conversation_ids = list(
            session.scalars(
                insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True),
                [
                    {
                        "contact_id": contact_id,
                        "channel": channel,
                        "language": lang,
                        "owner": Owner.closed,
                        "urgent": False,
                        "priority": False,
                        "topic": topic,
                        "opened_at": ago,
                        "closed_at": ago,
                        "last_message_at": ago,
                    }
                    for contact_id, lang in zip(contact_ids, langs, strict=True)
                ],
            )
        )
        session.execute(
            insert(Message),
            [
                {
                    "conversation_id": conversation_id,
                    "channel": channel,
                    "direction": Direction.inbound,
                    "sender": Sender.user,
                    "text": "a question",
                    "topic": topic,
                    "language": lang,
                    "status": "handled",
                    "attempts": 0,
                    "priority": 0,
                    "provider_message_id": f"in-{channel}-{n}",
                    "created_at": ago,
                }
                for n, conversation_id, lang in zip(numbers, conversation_ids, langs, strict=True)
            ],
        )
        people = [
            Person(contact_id, conversation_id, channel, address, lang)
            for contact_id, conversation_id, address, lang in zip(
                contact_ids, conversation_ids, addresses, langs, strict=True
            )
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
