"""Who a broadcast goes to: filters, and the counts shown before it is sent.

Nothing about a person leaves this module but counts. Never in an audience: people who
asked for no more broadcasts (STOP), whose data is being erased, who never agreed to
the privacy notice, or with no conversation to write in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlmodel import Session, col, select

from bot.config import LANGUAGES
from bot.models import Contact, Conversation, Direction, Message
from bot.privacy.erasure import ERASED

CHANNELS = ("whatsapp", "telegram")  # where a person can be written to first
DEFAULT_TOPIC_DAYS = 60


class AudienceError(ValueError):
    """A filter that cannot be used (an unknown channel or language, a negative period)."""


@dataclass(frozen=True)
class Audience:
    """The filters; an empty tuple means "any"."""

    channels: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    topic_days: int = DEFAULT_TOPIC_DAYS  # the topics were touched within this many days
    since_days: int | None = None  # wrote within this many days

    def __post_init__(self) -> None:
        unknown = set(self.channels) - set(CHANNELS)
        if unknown:
            raise AudienceError(f"unknown channel: {', '.join(sorted(unknown))}")
        unknown = set(self.languages) - set(LANGUAGES)
        if unknown:
            raise AudienceError(f"unknown language: {', '.join(sorted(unknown))}")
        if self.topic_days < 1 or (self.since_days is not None and self.since_days < 1):
            raise AudienceError("a period is at least one day")

    def as_filters(self) -> dict[str, Any]:
        """As stored on the broadcast (and in the audit log)."""
        return {
            "channels": list(self.channels),
            "languages": list(self.languages),
            "topics": list(self.topics),
            "topic_days": self.topic_days,
            "since_days": self.since_days,
        }

    @classmethod
    def from_filters(cls, filters: Mapping[str, Any]) -> Audience:
        return cls(
            channels=tuple(filters.get("channels") or ()),
            languages=tuple(filters.get("languages") or ()),
            topics=tuple(filters.get("topics") or ()),
            topic_days=int(filters.get("topic_days") or DEFAULT_TOPIC_DAYS),
            since_days=int(filters["since_days"]) if filters.get("since_days") else None,
        )

    def where(self, now: datetime) -> list[ColumnElement[bool]]:
        """The conditions on ``Contact`` that make someone part of this audience."""
        conditions: list[ColumnElement[bool]] = [
            col(Contact.channel).in_(self.channels or CHANNELS),
            col(Contact.broadcasts_opted_out_at).is_(None),
            col(Contact.consent_at).is_not(None),
            col(Contact.language).in_(self.languages or LANGUAGES),
            exists().where(col(Conversation.contact_id) == Contact.id),
            ~exists().where(
                col(Conversation.contact_id) == Contact.id, col(Conversation.outcome) == ERASED
            ),
        ]
        if self.since_days is not None:
            since = now - timedelta(days=self.since_days)
            conditions.append(col(Contact.last_inbound_at) >= since)
        if self.topics:
            since = now - timedelta(days=self.topic_days)
            conditions.append(
                exists().where(
                    col(Conversation.contact_id) == Contact.id,
                    col(Message.conversation_id) == Conversation.id,
                    col(Message.direction).in_([Direction.inbound, Direction.outbound]),
                    col(Message.created_at) >= since,
                    or_(*(_topic_or_child(col(Message.topic), t) for t in self.topics)),
                )
            )
        return conditions


def _topic_or_child(column: Any, topic: str) -> ColumnElement[bool]:
    """The topic, or one below it (``asylum.apply.registration`` counts for ``asylum.apply``)."""
    escaped = topic.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(column == topic, column.like(f"{escaped}.%", escape="\\"))


def count_by_language(session: Session, audience: Audience, *, now: datetime) -> dict[str, int]:
    """How many people the filters reach, per language (every language, zeros included)."""
    rows = session.exec(
        select(Contact.language, func.count())
        .where(and_(*audience.where(now)))
        .group_by(col(Contact.language))
    ).all()
    found = {str(language): int(n) for language, n in rows}
    return {language: found.get(language, 0) for language in LANGUAGES}


def summary(counts: Mapping[str, int], languages_with_text: Iterable[str]) -> dict[str, Any]:
    """The counts as shown before sending: who is reached, and who is not for want of a text."""
    with_text = set(languages_with_text)
    by_language = {
        language: {
            "audience": counts.get(language, 0),
            "targeted": counts.get(language, 0) if language in with_text else 0,
            "has_text": language in with_text,
        }
        for language in LANGUAGES
    }
    return {
        "audience": sum(counts.values()),
        "targeted": sum(entry["targeted"] for entry in by_language.values()),
        "not_reached_for_want_of_a_text": sum(
            entry["audience"] for entry in by_language.values() if not entry["has_text"]
        ),
        "by_language": by_language,
    }
