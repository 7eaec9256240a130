"""Demo data for `make run`: a staff account and a queue of people waiting.

Idempotent: running it again adds nothing. The demo account's password is random
and printed once, when the account is created; `helpline staff password` sets a new
one. The conversations are on the web chat channel, so that answering them works
without any provider account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

import bot.conversations  # noqa: F401  (keeps the demo conversations' contact records)
from bot import db
from bot.config import Settings
from bot.console.accounts import create_staff
from bot.console.auth import find_staff
from bot.conversations import find_contact, get_or_create_contact
from bot.hours import OpeningHours
from bot.i18n import answer_text
from bot.kb import live
from bot.models import Conversation, Direction, Message, MessageStatus, Owner, Role, Sender
from bot.nlu.knowledge import KnowledgeError

DEMO_EMAIL = "demo@helpline.test"
DEMO_CHANNEL = "webchat"


@dataclass(frozen=True)
class DemoPerson:
    address: str
    language: str
    waiting_minutes: int
    urgent: bool
    messages: tuple[tuple[str, str], ...]  # (sender, text); "kb:<topic>" = that answer
    reason: str


PEOPLE = (
    DemoPerson(
        "demo-ps",
        "ps",
        3,
        True,
        (
            ("user", "زه ډېر ویریږم، یو سړی مې ګواښي او نه پوهېږم چې چېرته لاړ شم"),
            ("bot", "kb:urgent"),
        ),
        "urgent",
    ),
    DemoPerson(
        "demo-fa",
        "fa",
        14,
        False,
        (
            ("user", "سلام، می‌خواهم خانمم و اولادهایم را از افغانستان به بلژیک بیاورم."),
            ("bot", "kb:family.reunification"),
            ("user", "این کمک نکرد. با یک نفر صحبت کرده می‌توانم؟"),
        ),
        "not_helpful",
    ),
    DemoPerson(
        "demo-uk",
        "uk",
        26,
        False,
        (("user", "Добрий день! Чи можу я працювати з тимчасовим захистом у Бельгії?"),),
        "asked",
    ),
    DemoPerson(
        "demo-fr",
        "fr",
        8,
        False,
        (
            ("user", "J'ai reçu une décision négative du CGRA hier. Qu'est-ce que je peux faire ?"),
            ("bot", "kb:asylum.negative_decision"),
            ("user", "Je voudrais parler à quelqu'un, s'il vous plaît."),
        ),
        "asked",
    ),
    DemoPerson(
        "demo-nl",
        "nl",
        1,
        False,
        (("user", "Hallo, mijn buurman heeft geen opvangplaats gekregen. Wat kan hij doen?"),),
        "abstained",
    ),
)


@dataclass(frozen=True)
class DemoResult:
    email: str
    password: str | None  # only when the account was created just now
    conversations: int  # created just now


def _bot_text(settings: Settings, text: str, language: str) -> tuple[str, str | None]:
    if not text.startswith("kb:"):
        return text, None
    topic = text.removeprefix("kb:")
    try:
        answer = live.knowledge(settings).answer(topic, language).answer
        return answer_text(settings, OpeningHours.from_settings(settings), answer, language), topic
    except (KnowledgeError, KeyError, OSError):
        return f"[{topic}]", topic


def load_demo(engine: Engine, settings: Settings, *, now: datetime) -> DemoResult:
    password = None
    with db.session_scope(engine) as session:
        if find_staff(session, DEMO_EMAIL) is None:
            password = secrets.token_urlsafe(12)
            create_staff(session, DEMO_EMAIL, password, role=Role.admin, name="Demo", locale="en")

    created = 0
    for number, person in enumerate(PEOPLE):
        with db.session_scope(engine) as session:
            if find_contact(session, settings, DEMO_CHANNEL, person.address) is not None:
                continue
            contact = get_or_create_contact(session, settings, DEMO_CHANNEL, person.address)
            assert contact.id is not None
            contact.language = person.language
            started = now - timedelta(minutes=person.waiting_minutes + 2)
            contact.last_inbound_at = now - timedelta(minutes=person.waiting_minutes)
            conversation = Conversation(
                contact_id=contact.id,
                channel=DEMO_CHANNEL,
                language=person.language,
                owner=Owner.queue,
                urgent=person.urgent,
                handoff_reason=person.reason,
                opened_at=started,
                queued_at=now - timedelta(minutes=person.waiting_minutes),
                last_message_at=now - timedelta(minutes=person.waiting_minutes),
            )
            session.add(conversation)
            session.flush()
            assert conversation.id is not None
            for index, (sender, text) in enumerate(person.messages):
                body, topic = _bot_text(settings, text, person.language)
                inbound = sender == Sender.user
                session.add(
                    Message(
                        conversation_id=conversation.id,
                        channel=DEMO_CHANNEL,
                        direction=Direction.inbound if inbound else Direction.outbound,
                        sender=sender,
                        text=body,
                        topic=topic,
                        language=person.language,
                        provider_message_id=f"demo-{number}-{index}" if inbound else None,
                        status=MessageStatus.handled if inbound else MessageStatus.sent,
                        created_at=started + timedelta(seconds=20 * index),
                        sent_at=None if inbound else started + timedelta(seconds=20 * index),
                    )
                )
            created += 1
    return DemoResult(DEMO_EMAIL, password, created)
