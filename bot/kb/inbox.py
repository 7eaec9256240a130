"""The learning inbox: messages the bot failed, grouped, and what staff do with them.

A message is in the inbox when the bot failed it and nobody has decided about it yet
(``KbInboxDecision``):

- ``abstained``: the matcher found no topic for what the person wrote;
- ``not_helpful``: the person answered "did this help?" with no; the message shown is
  the question that answer replied to (``AnswerFeedback`` is anonymous, so it is found
  in the conversation: the last question the bot matched before the "no");
- ``closed_other``: staff closed the conversation with a topic other than the one the
  bot answered the message with.

Urgent messages never enter it (they are for staff now, not for the knowledge base).
The text shown is the message row's text and nothing else: retention empties it and
erasure deletes the row, so the inbox shows only what the conversation's retention
allows. Messages are grouped by language and by how alike they read (character
n-grams, greedy), newest first.

Staff add a message as an example of a topic (``bot.kb.store.add_example``: a draft to
publish), draft a new topic from a group, or dismiss it; each is recorded as a
decision and audited. ``strip_personal`` offers the editor a text without names,
numbers, e-mail and street addresses: it is shown to them, to check and edit, and
never added unseen.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from bot.audit import record as audit
from bot.config import LANGUAGES
from bot.handoff import CloseOutcome
from bot.kb import store
from bot.models import (
    Conversation,
    Direction,
    KbInboxDecision,
    KbRevision,
    Message,
    Owner,
    Sender,
    StaffUser,
    utcnow,
)
from bot.nlu.knowledge import KnowledgeBase
from bot.nlu.text import normalize

__all__ = [
    "ABSTAINED",
    "CLOSED_OTHER",
    "NOT_HELPFUL",
    "Failed",
    "Group",
    "add_example",
    "decide",
    "dismiss",
    "draft_topic",
    "failed_messages",
    "group",
    "inbox",
    "similarity",
    "strip_personal",
]

ABSTAINED = "abstained"
NOT_HELPFUL = "not_helpful"
CLOSED_OTHER = "closed_other"
HELPED_NO = "helped.no"  # the "No" button of "did this help?" (flows/faq.yaml)
URGENT = "urgent"
# Two messages belong together from this cosine similarity of their character
# n-grams on: rewordings of one question ("waar kan ik asiel aanvragen" / "waar asiel
# aanvragen?") are well above it, two questions that share a few words below.
SIMILAR = 0.45
LIMIT = 2000  # the newest failed messages read per source; the rest waits its turn
OUTCOMES = ("added", "drafted", "dismissed")


@dataclass(frozen=True)
class Failed:
    """One message the bot failed, as the inbox shows it."""

    message_id: int
    conversation_id: int
    text: str
    language: str  # the matcher's reply language; "" when unknown
    reason: str  # ABSTAINED, NOT_HELPFUL or CLOSED_OTHER
    at: datetime
    bot_topic: str | None = None  # what the bot answered (not_helpful, closed_other)
    staff_topic: str | None = None  # what staff closed with (closed_other)


@dataclass
class Group:
    """Failed messages that read alike, in one language; newest first."""

    language: str
    messages: list[Failed] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.messages)

    @property
    def newest(self) -> Failed:
        return self.messages[0]

    @property
    def key(self) -> int:
        """The newest message's id: names the group in a form."""
        return self.newest.message_id

    @property
    def suggested_topic(self) -> str | None:
        """The topic staff closed with, else none: what to pre-select."""
        staff = Counter(m.staff_topic for m in self.messages if m.staff_topic)
        return staff.most_common(1)[0][0] if staff else None

    @property
    def reasons(self) -> list[str]:
        return sorted({m.reason for m in self.messages})


# --- the sources ---------------------------------------------------------------------


def _person_texts() -> list[object]:
    """What every message in the inbox is: the person's text, not decided, not urgent."""
    decided = select(KbInboxDecision.message_id)
    return [
        col(Message.direction) == Direction.inbound,
        col(Message.sender) == Sender.user,
        col(Message.text).is_not(None),
        col(Message.text) != "",
        col(Message.id).not_in(decided),
        col(Conversation.urgent).is_(False),
        (col(Message.topic).is_(None)) | (col(Message.topic) != URGENT),
    ]


def _failed(message: Message, reason: str, **topics: str | None) -> Failed:
    assert message.id is not None and message.text is not None
    return Failed(
        message_id=message.id,
        conversation_id=message.conversation_id,
        text=message.text,
        language=message.language or "",
        reason=reason,
        at=message.created_at,
        **topics,
    )


def abstained(session: Session, *, limit: int = LIMIT) -> list[Failed]:
    """Messages the matcher found no topic for (it ran: ``score`` is set), typed rather
    than a pressed button, in conversations the bot held."""
    rows = session.exec(
        select(Message)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .where(
            *_person_texts(),  # type: ignore[arg-type]
            col(Message.topic).is_(None),
            col(Message.score).is_not(None),
            col(Message.button).is_(None),
        )
        .order_by(col(Message.id).desc())
        .limit(limit)
    ).all()
    return [_failed(m, ABSTAINED) for m in rows]


def _asked(session: Session, conversation_ids: Iterable[int]) -> dict[int, list[Message]]:
    """The questions the bot matched to a topic, per conversation, oldest first."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(Message)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .where(
            *_person_texts(),  # type: ignore[arg-type]
            col(Message.conversation_id).in_(ids),
            col(Message.topic).is_not(None),
            col(Message.button).is_(None),
        )
        .order_by(col(Message.id))
    ).all()
    found: dict[int, list[Message]] = {}
    for row in rows:
        found.setdefault(row.conversation_id, []).append(row)
    return found


def not_helpful(session: Session, *, limit: int = LIMIT) -> list[Failed]:
    """The questions whose answer the person said did not help: for each "No" to "did
    this help?", the last question the bot matched before it in that conversation."""
    presses = session.exec(
        select(Message.id, Message.conversation_id)
        .where(
            col(Message.direction) == Direction.inbound,
            col(Message.button) == HELPED_NO,
        )
        .order_by(col(Message.id).desc())
        .limit(limit)
    ).all()
    asked = _asked(session, (conversation_id for _id, conversation_id in presses))
    found: dict[int, Failed] = {}
    for press_id, conversation_id in presses:
        before = [m for m in asked.get(conversation_id, []) if (m.id or 0) < (press_id or 0)]
        if before and before[-1].id not in found:
            question = before[-1]
            found[question.id or 0] = _failed(question, NOT_HELPFUL, bot_topic=question.topic)
    return list(found.values())


def closed_other(
    session: Session, knowledge: KnowledgeBase | None = None, *, limit: int = LIMIT
) -> list[Failed]:
    """Messages the bot answered with a topic, in conversations staff then closed with
    another one (a child topic refines its parent: not another). With ``knowledge``,
    only the bot's answers from the knowledge base's faq topics count (a greeting is
    not a failed answer)."""
    closed = session.exec(
        select(Conversation.id, Conversation.topic)
        .where(
            col(Conversation.owner) == Owner.closed,
            col(Conversation.outcome).in_([o.value for o in CloseOutcome]),
            col(Conversation.topic).is_not(None),
            col(Conversation.urgent).is_(False),
        )
        .order_by(col(Conversation.closed_at).desc())
        .limit(limit)
    ).all()
    staff_topics = {conversation_id or 0: topic for conversation_id, topic in closed}
    found = []
    for conversation_id, messages in _asked(session, staff_topics).items():
        staff_topic = staff_topics[conversation_id]
        for message in messages:
            bot_topic = message.topic or ""
            if _same(bot_topic, staff_topic or ""):
                continue
            if knowledge is not None and not _is_faq(knowledge, bot_topic):
                continue
            found.append(
                _failed(message, CLOSED_OTHER, bot_topic=bot_topic, staff_topic=staff_topic)
            )
    return found


def _same(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _is_faq(knowledge: KnowledgeBase, topic_id: str) -> bool:
    topic = knowledge.topics.get(topic_id)
    return topic is not None and topic.kind == "faq"


def failed_messages(
    session: Session, knowledge: KnowledgeBase | None = None, *, limit: int = LIMIT
) -> list[Failed]:
    """Every message in the inbox (each once: the first reason found), newest first."""
    found: dict[int, Failed] = {}
    for source in (
        abstained(session, limit=limit),
        not_helpful(session, limit=limit),
        closed_other(session, knowledge, limit=limit),
    ):
        for failed in source:
            found.setdefault(failed.message_id, failed)
    return sorted(found.values(), key=lambda f: (f.at, f.message_id), reverse=True)


# --- grouping ------------------------------------------------------------------------


def _grams(text: str) -> Counter[str]:
    """Character 2- to 4-grams of each normalised word, padded: alike in any script."""
    grams: Counter[str] = Counter()
    for word in normalize(text).split():
        padded = f" {word} "
        for size in (2, 3, 4):
            grams.update(padded[i : i + size] for i in range(len(padded) - size + 1))
    return grams


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[gram] for gram, count in a.items() if gram in b)
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm


def similarity(a: str, b: str) -> float:
    """How alike two messages read, 0..1 (cosine of their character n-grams)."""
    return _cosine(_grams(a), _grams(b))


def group(failed: Sequence[Failed], *, threshold: float = SIMILAR) -> list[Group]:
    """Greedy grouping, newest first: a message joins the first group of its language
    whose first (newest) message reads alike, else starts one. Groups are ordered by
    their newest message."""
    groups: list[tuple[Group, Counter[str]]] = []
    for message in sorted(failed, key=lambda f: (f.at, f.message_id), reverse=True):
        grams = _grams(message.text)
        for existing, first in groups:
            if existing.language == message.language and _cosine(grams, first) >= threshold:
                existing.messages.append(message)
                break
        else:
            groups.append((Group(message.language, [message]), grams))
    return [g for g, _grams_of_first in groups]


def inbox(session: Session, knowledge: KnowledgeBase | None = None) -> list[Group]:
    """The learning inbox: failed messages, grouped, newest group first."""
    return group(failed_messages(session, knowledge))


# --- personal details ----------------------------------------------------------------

GONE = "…"  # what stands where something personal was: in every language
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@\w{2,}")
# A number with two digits or more in any script, with the separators phone, file and
# card numbers are written with; letters stuck to it go too (OV12345, 8.123.456-B).
_DIGIT = r"[0-9\u0660-\u0669\u06f0-\u06f9]"
_NUMBER = re.compile(
    rf"(?:\+|\b[^\W\d_]{{0,4}})?{_DIGIT}(?:[\s./()-]?{_DIGIT})+(?:[-/]?[^\W\d_]{{1,3}}\b)?"
    rf"|\b[^\W\d_]{{1,4}}{_DIGIT}\b"
)
# Street addresses: the street's name with the word for street, in the six languages.
_STREET_WORDS = (
    r"rue|avenue|av\.|boulevard|bd|chauss[ée]e|place|chemin|quai|square|impasse|all[ée]e"
)
_STREETS = [
    # Dutch compounds: Kerkstraat, Stationsplein, Koningslaan, Bergsesteenweg
    re.compile(
        r"\b\w+(?:straat|laan|plein|steenweg|weg|lei|dreef|kaai|markt|singel|gracht|dijk)\b",
        re.IGNORECASE,
    ),
    # French: rue de la Loi, avenue Louise, chaussée d'Ixelles
    re.compile(
        rf"\b(?:{_STREET_WORDS})\s+(?:(?:de\s+la|de|du|des|d'|d’|l'|l’|la|le)\s*)?[\w'’-]+",
        re.IGNORECASE,
    ),
    # English: Main Street, Station Road
    re.compile(r"\b[\w'-]+\s+(?:street|st\.|road|rd\.|lane|avenue|square|drive)\b", re.I),
    # Ukrainian: вулиця Шевченка, вул. Хрещатик, проспект Перемоги
    re.compile(r"(?:вулиц[яіюе]|вул\.|проспект[уі]?|просп\.|провулок|площ[аіу])\s*[\w'’-]+", re.I),
    # Pashto and Dari: the street's name after the word for street or lane
    re.compile(r"(?:کوڅه|کوڅې|سړک|سرک|واټ|خیابان|خیابانِ|کوچه|کوچهٔ|جاده|سرک)\s+\w+"),
]
# A name after the words people introduce themselves or others with.
_NAME_WORD = r"[^\W\d_][\w'’-]*"
_NAMES = [
    re.compile(rf"({lead})\s+({_NAME_WORD}(?:\s+[A-ZÀ-ÖØ-ÞА-ЯЄІЇҐ][\w'’-]*)?)", re.IGNORECASE)
    for lead in (
        r"my name is|i am called|name's",
        r"mijn naam is|ik heet|ik ben de \w+ van",
        r"je m'appelle|je m’appelle|mon nom est|je suis madame|je suis monsieur",
        r"мене звати|моє ім'я|моє ім’я|мене звуть|моє прізвище",
        r"\b(?:mr|mrs|ms|meneer|mevrouw|mevr|dhr|monsieur|madame|mme|пан|пані)\.?",
    )
]
# Pashto "زما نوم احمد دی", "نوم مې احمد دی"; Dari "نام من احمد است", "اسمم احمد است":
# the name sits between the lead and the verb.
_NAMES_RTL = [
    re.compile(r"(زما نوم|نوم مې|نوم می|زما د \w+ نوم)\s+(\w+(?:\s+\w+)?)(?=\s+(?:دی|دے|ده)\b)"),
    re.compile(r"(نام من|اسم من|اسمم|نامم|نام \w+ من)\s+(\w+(?:\s+\w+)?)(?=\s+(?:است|هست)\b)"),
]


def strip_personal(text: str) -> str:
    """``text`` without names, numbers, e-mail and street addresses, for the editor to
    check before it becomes an example: each is replaced by "…". Finds what is written
    the usual ways in the six languages; what it misses, the editor removes."""
    result = _EMAIL.sub(GONE, text)
    result = _URL.sub(GONE, result)
    result = _HANDLE.sub(GONE, result)
    for pattern in _STREETS:
        result = pattern.sub(GONE, result)
    for pattern in (*_NAMES, *_NAMES_RTL):
        result = pattern.sub(lambda m: f"{m.group(1)} {GONE}", result)
    result = _NUMBER.sub(GONE, result)
    # A house number beside the street's name: "Kerkstraat 5", "5 Main Street".
    result = re.sub(rf"{GONE},?\s*{_DIGIT}+[^\W\d_]?\b", GONE, result)
    result = re.sub(rf"\b{_DIGIT}+[^\W\d_]?,?\s*{GONE}", GONE, result)
    result = re.sub(rf"{GONE}(?:[\s,]*{GONE})+", GONE, result)  # one mark per gap
    return " ".join(result.split())


# --- decisions -----------------------------------------------------------------------


def _staff_id(staff: StaffUser | str) -> int | None:
    return None if isinstance(staff, str) else staff.id


def decide(
    session: Session,
    message_ids: Iterable[int],
    outcome: str,
    staff: StaffUser | str,
    *,
    topic_id: str | None = None,
) -> list[int]:
    """Record ``outcome`` for the messages still undecided (and still there: retention
    or erasure may have taken them meanwhile); returns their ids."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    wanted = sorted(set(message_ids))
    if not wanted:
        return []
    present = set(session.exec(select(Message.id).where(col(Message.id).in_(wanted))).all())
    done = set(
        session.exec(
            select(KbInboxDecision.message_id).where(col(KbInboxDecision.message_id).in_(wanted))
        ).all()
    )
    decided = [i for i in wanted if i in present and i not in done]
    now = utcnow()
    for message_id in decided:
        session.add(
            KbInboxDecision(
                message_id=message_id,
                outcome=outcome,
                topic_id=topic_id,
                staff_id=_staff_id(staff),
                decided_at=now,
            )
        )
    session.flush()
    return decided


def add_example(
    session: Session,
    message_ids: Iterable[int],
    topic_id: str,
    lang: str,
    text: str,
    staff: StaffUser | str,
) -> KbRevision:
    """Add ``text`` (as the editor left it) as an example of ``topic_id`` in ``lang``: a
    draft revision to publish; the messages are decided "added". Raises
    ``store.KbEditError`` (nothing recorded) when the example cannot be added."""
    revision = store.add_example(session, topic_id, lang, text, staff)
    decide(session, message_ids, "added", staff, topic_id=topic_id)
    return revision


def draft_topic(
    session: Session,
    message_ids: Iterable[int],
    topic_id: str,
    lang: str,
    texts: Sequence[str],
    staff: StaffUser | str,
    *,
    owner: str = "infolijn",
    today: date | None = None,
) -> KbRevision:
    """A draft of a new topic ``topic_id`` with ``texts`` as its examples in ``lang``;
    its title and answer (and the other languages) are the editor's to write before it
    can be published. The messages are decided "drafted"."""
    if lang not in LANGUAGES:
        raise store.KbEditError([f"unknown language {lang!r}"])
    if store.TOPIC_ID.fullmatch(topic_id.strip()) and not any(t.strip() for t in texts):
        raise store.KbEditError(["the examples are empty"])
    revision = store.new_topic(
        session,
        topic_id,
        staff,
        examples={lang: texts},
        owner=owner,
        today=today,
        summary=f"{lang}: new topic drafted from messages the bot failed",
    )
    topic_id = revision.topic_id
    decide(session, message_ids, "drafted", staff, topic_id=topic_id)
    return revision


def dismiss(session: Session, message_ids: Iterable[int], staff: StaffUser | str) -> list[int]:
    """Nothing to learn from these messages: they leave the inbox (audited)."""
    decided = decide(session, message_ids, "dismissed", staff)
    if decided:
        audit(
            session,
            "kb_inbox_dismiss",
            staff_id=_staff_id(staff),
            target=f"message:{decided[0]}",
            detail=f"{len(decided)} message(s): " + " ".join(str(i) for i in decided)[:400],
        )
    return decided
