"""Per topic: how often the bot answered it, "did this help?", and handoffs after it.

- **Answered**: the person's messages the bot matched to the topic while it held the
  conversation (``Message.topic`` on inbound messages), one per turn: quick fragments
  the bot answered together count once. Read from the messages, so a conversation
  erased since is no longer counted (retention keeps the rows, without their text).
- **Helped yes / no**: "did this help?" answered (``AnswerFeedback``, anonymous; it
  survives erasure); the rate is yes / (yes + no).
- **Handoffs after it**: conversations handed to staff (first time in the queue) after
  the bot answered this topic, counted for the last topic answered before the handoff.

The period is by when the message was written, the feedback given and the
conversation handed over, from ``start`` (included) to ``end`` (excluded).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from bot.models import AnswerFeedback, ContactRecord, Direction, Message, Sender

CSV_COLUMNS = ("topic", "answered", "helped_yes", "helped_no", "helped_rate", "handoffs_after")
URGENT = "urgent"


@dataclass(frozen=True)
class TopicFigures:
    topic: str
    answered: int = 0
    helped_yes: int = 0
    helped_no: int = 0
    handoffs_after: int = 0

    @property
    def helped_rate(self) -> float | None:
        """yes / (yes + no); None when nobody answered "did this help?"."""
        asked = self.helped_yes + self.helped_no
        return self.helped_yes / asked if asked else None


def topic_figures(session: Session, start: datetime, end: datetime) -> list[TopicFigures]:
    """Every topic with a figure in the period, the most answered first."""
    rows = session.exec(
        select(Message.conversation_id, Message.topic, Message.score, Message.created_at)
        .where(
            col(Message.direction) == Direction.inbound,
            col(Message.sender) == Sender.user,
            col(Message.topic).is_not(None),
            col(Message.topic) != URGENT,
            col(Message.created_at) >= start,
            col(Message.created_at) < end,
        )
        .order_by(col(Message.conversation_id), col(Message.id))
    ).all()
    answered: Counter[str] = Counter()
    answers: dict[int, list[tuple[datetime, str]]] = {}
    previous: tuple[int, str | None, float | None] | None = None
    for conversation_id, topic, score, at in rows:
        assert topic is not None
        # A turn's fragments share its topic and score: one answer.
        if previous != (conversation_id, topic, score):
            answered[topic] += 1
            answers.setdefault(conversation_id, []).append((at, topic))
        previous = (conversation_id, topic, score)
    handoffs: Counter[str] = Counter()
    if answers:
        handed = session.exec(
            select(ContactRecord.conversation_id, ContactRecord.handed_off_at).where(
                col(ContactRecord.conversation_id).in_(sorted(answers)),
                col(ContactRecord.handed_off_at).is_not(None),
            )
        ).all()
        for handed_id, queued_at in handed:
            assert handed_id is not None and queued_at is not None
            queued = _utc(queued_at)
            before = [t for at, t in answers[handed_id] if _utc(at) <= queued]
            if before and _utc(start) <= queued < _utc(end):
                handoffs[before[-1]] += 1
    feedback = session.exec(
        select(AnswerFeedback.topic, AnswerFeedback.helped).where(
            col(AnswerFeedback.created_at) >= start, col(AnswerFeedback.created_at) < end
        )
    ).all()
    yes = Counter(topic for topic, helped in feedback if helped)
    no = Counter(topic for topic, helped in feedback if not helped)
    topics = set(answered) | set(yes) | set(no) | set(handoffs)
    figures = [TopicFigures(t, answered[t], yes[t], no[t], handoffs[t]) for t in sorted(topics)]
    return sorted(figures, key=lambda f: (-f.answered, f.topic))


def _utc(moment: datetime) -> datetime:
    """SQLite gives naive UTC times back; PostgreSQL aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def topics_csv(figures: list[TopicFigures]) -> str:
    """One row per topic: ``topic,answered,helped_yes,helped_no,helped_rate,handoffs_after``
    (the rate with three decimals, empty when nobody answered "did this help?")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in figures:
        rate = "" if f.helped_rate is None else f"{f.helped_rate:.3f}"
        writer.writerow([f.topic, f.answered, f.helped_yes, f.helped_no, rate, f.handoffs_after])
    return out.getvalue()
