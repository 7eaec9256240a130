"""A person talking to the bot, with time under the test's control.

``Chat`` sends through the real inbox (store, debounce, flow engine, outbox) on the
test database and returns what the bot queued in reply. The flow tests use a small
fake matcher (``FakeMatcher``) so that they test the flows, not the matcher's
accuracy; the end-to-end tests use the real one. The ``flows`` and ``chat`` fixtures
(in ``tests/conftest.py``) are built from these.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot import inbox
from bot.config import Settings
from bot.dialogue.engine import FlowEngine
from bot.i18n import strip_isolates
from bot.messages import Inbound
from bot.models import Contact, Conversation, Direction, Message
from bot.nlu import Match
from bot.nlu.language import detect_language

MONDAY_MORNING = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 in Brussels: open
SATURDAY = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)  # closed until Monday 9:00

# What each person writes in the tests, per language: (text, topic).
SAMPLES: dict[str, dict[str, str]] = {
    "nl": {
        "question": "Waar kan ik asiel aanvragen?",
        "greeting": "Hallo, goedemorgen",
        "thanks": "Dank u wel",
        "human": "Ik wil met een medewerker praten",
        "urgent": "Help, mijn man slaat mij en hij heeft een mes",
        "privacy": "Wat gebeurt er met mijn gegevens?",
        "unknown": "Wat kost een treinticket naar Gent?",
        "delete": "Verwijder mijn gegevens alstublieft",
    },
    "fr": {
        "question": "Où est-ce que je peux demander l'asile ?",
        "greeting": "Bonjour madame",
        "thanks": "Merci beaucoup",
        "human": "Je veux parler à une personne",
        "urgent": "Au secours, mon mari me frappe et il a un couteau",
        "privacy": "Que faites-vous de mes données ?",
        "unknown": "Combien coûte un billet de train pour Gand ?",
        "delete": "Supprimez mes données s'il vous plaît",
    },
    "en": {
        "question": "Where can I apply for asylum?",
        "greeting": "Hello, good morning",
        "thanks": "Thank you very much",
        "human": "I want to talk to a person",
        "urgent": "Help, my husband is beating me and he has a knife",
        "privacy": "What happens with my data?",
        "unknown": "How much is a train ticket to Ghent?",
        "delete": "Please delete my data",
    },
    "uk": {
        "question": "Де можна подати заяву на притулок?",
        "greeting": "Добрий день",
        "thanks": "Дуже дякую",
        "human": "Я хочу поговорити з людиною",
        "urgent": "Допоможіть, чоловік мене б'є, у нього ніж",
        "privacy": "Що буде з моїми даними?",
        "unknown": "Скільки коштує квиток на поїзд до Гента?",
        "delete": "Видаліть мої дані, будь ласка",
    },
    "ps": {
        "question": "زه په بلجیم کې پناه څنګه وغواړم؟",
        "greeting": "السلام علیکم، ستړي مه شئ",
        "thanks": "ډېره مننه",
        "human": "غواړم له یو کس سره خبرې وکړم",
        "urgent": "مرسته وکړئ، مېړه مې وهي او چاړه یې په لاس کې ده",
        "privacy": "زما معلومات به څه کېږي؟",
        "unknown": "ګېنټ ته د اورګاډي ټکټ څو دی؟",
        "delete": "مهرباني وکړئ زما معلومات پاک کړئ",
    },
    "fa": {
        "question": "در بلجیم چطور درخواست پناهندگی بدهم؟",
        "greeting": "سلام، صبح بخیر",
        "thanks": "تشکر زیاد",
        "human": "می خواهم با یک شخص صحبت کنم",
        "urgent": "کمک کنید، شوهرم مرا می زند و چاقو در دست دارد",
        "privacy": "با معلومات من چه می شود؟",
        "unknown": "تکت قطار به گنت چند است؟",
        "delete": "لطفا معلومات مرا پاک کنید",
    },
}
TOPICS = {
    "question": "asylum.apply",
    "greeting": "meta.greeting",
    "thanks": "meta.thanks",
    "human": "meta.human",
    "urgent": "urgent",
    "privacy": "meta.privacy",
    "unknown": None,
    "delete": "meta.privacy",
}
CANDIDATES = ("asylum.apply", "reception.no_place", "health.medical_care")


class FakeMatcher:
    """Knows the sample sentences above; anything else it does not understand."""

    def __init__(self) -> None:
        self.known = {
            text: (lang, TOPICS[kind])
            for lang, samples in SAMPLES.items()
            for kind, text in samples.items()
        }

    def match(self, text: str, lang: str | None = None) -> Match:
        found = [self.known[line] for line in text.split("\n") if line in self.known]
        if found:
            detected, topic = found[-1]
            urgent = any(t == "urgent" for _, t in found)
            topic = "urgent" if urgent else topic
            confidence = 0.95
        else:
            guess = detect_language(text)
            detected, topic, urgent, confidence = guess.lang, None, False, guess.confidence
        candidates = CANDIDATES if topic is None and text.strip() else ()
        return Match(
            topic=topic,
            score=0.9 if topic else 0.1,
            lang=lang or detected,
            detected_lang=detected,
            lang_confidence=confidence,
            urgent=urgent,
            candidates=candidates,
        )


@dataclass
class Reply:
    text: str  # without the RTL isolates
    raw: str
    buttons: list[dict[str, str]]
    language: str | None

    @property
    def payloads(self) -> list[str]:
        return [b["payload"] for b in self.buttons]


_ids = itertools.count(1)


@dataclass
class Chat:
    engine: Engine
    settings: Settings
    flows: FlowEngine
    channel: str = "webchat"
    address: str = "person-1"
    now: datetime = MONDAY_MORNING
    seen: int = 0
    log: list[Reply] = field(default_factory=list)

    def arrive(
        self,
        text: str | None = None,
        *,
        button: str | None = None,
        media_type: str | None = None,
        media_ref: str | None = None,
        after: float = 1.0,
    ) -> str:
        """The person sends something; it is stored, not yet answered."""
        self.now += timedelta(seconds=after)
        message_id = f"m{next(_ids)}"
        inbound = Inbound(
            channel=self.channel,
            address=self.address,
            provider_message_id=message_id,
            text=text,
            button=button,
            media_type=media_type,
            media_ref=media_ref,
            received_at=self.now,
        )
        assert inbox.receive(self.engine, self.settings, inbound)
        return message_id

    def process(self, *, after: float | None = None) -> list[Reply]:
        """Time passes (by default: the debounce) and the worker runs once."""
        wait = self.settings.debounce_seconds if after is None else after
        self.now += timedelta(seconds=wait)
        inbox.process_due(self.engine, self.settings, now=self.now, flows=self.flows)
        return self.replies()

    def send(self, text: str | None = None, **kwargs: object) -> list[Reply]:
        self.arrive(text, **kwargs)  # type: ignore[arg-type]
        return self.process()

    def press(self, payload: str) -> list[Reply]:
        return self.send(button=payload)

    def replies(self) -> list[Reply]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(Message)
                .join(Conversation, col(Conversation.id) == Message.conversation_id)
                .join(Contact, col(Contact.id) == Conversation.contact_id)
                .where(
                    Message.direction == Direction.outbound,
                    col(Message.id) > self.seen,
                    Contact.channel == self.channel,
                    Contact.id == self.contact_id(session),
                )
                .order_by(col(Message.id))
            ).all()
        if rows:
            self.seen = rows[-1].id or self.seen
        new = [
            Reply(strip_isolates(m.text or ""), m.text or "", m.buttons or [], m.language)
            for m in rows
        ]
        self.log += new
        return new

    def contact_id(self, session: Session) -> int | None:
        from bot.conversations import find_contact

        contact = find_contact(session, self.settings, self.channel, self.address)
        return contact.id if contact else None

    def contact(self) -> Contact:
        with Session(self.engine) as session:
            from bot.conversations import find_contact

            found = find_contact(session, self.settings, self.channel, self.address)
            assert found is not None
            return found

    def conversation(self) -> Conversation:
        with Session(self.engine) as session:
            contact_id = self.contact_id(session)
            found = session.exec(
                select(Conversation)
                .where(Conversation.contact_id == contact_id)
                .order_by(col(Conversation.id).desc())
            ).first()
            assert found is not None
            return found

    def consent(self, lang: str) -> None:
        """Get past the first contact: choose the language and agree."""
        self.press(f"lang:{lang}")
        self.press("consent.yes")
