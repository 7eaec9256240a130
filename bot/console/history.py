"""Earlier conversations: a person's history on the conversation page, and the list of
recent and closed conversations, filtered and searched by text.

Only what is still kept is found: a text deleted by retention (``Message.text`` is
NULL) matches nothing, and conversations being erased (outcome ``erased``) are never
listed. Text search is a case-insensitive substring match of every message and note
(``unicode_lower`` on SQLite, registered in ``bot.db``; PostgreSQL's ``lower``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import exists, func, or_
from sqlmodel import Session, col, select

from bot import channels
from bot.config import LANGUAGES
from bot.console import canned, queries
from bot.console.auth import CurrentStaff
from bot.console.routing import console_router
from bot.console.templating import render
from bot.deps import MAX_ROW_ID, SessionDep, SettingsDep
from bot.models import Conversation, Message, StaffUser
from bot.privacy.erasure import ERASED

router = console_router()
PAGE_SIZE = 50
EARLIER_SHOWN = 20
MAX_SEARCH = 200


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; every field empty: the most recent conversations."""

    language: str | None = None
    channel: str | None = None
    topic: str | None = None
    urgent: bool = False
    staff_id: int | None = None
    since: date | None = None
    until: date | None = None
    text: str = ""

    @property
    def active(self) -> bool:
        return any(
            (
                self.language,
                self.channel,
                self.topic,
                self.urgent,
                self.staff_id,
                self.since,
                self.until,
                self.text,
            )
        )


@dataclass(frozen=True)
class Found:
    conversation: Conversation
    staff: str | None
    excerpt: str | None  # the first message that matched the text searched for


def _kept() -> Any:
    return or_(col(Conversation.outcome).is_(None), col(Conversation.outcome) != ERASED)


def _lower(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return func.unicode_lower(column)
    return func.lower(column)


def _text_matches(session: Session, text: str) -> Any:
    return _lower(session, col(Message.text)).contains(text.lower(), autoescape=True)


def _local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def search(
    session: Session, filters: Filters, *, timezone: str, limit: int, offset: int = 0
) -> list[Found]:
    """Conversations that match, the most recently active first."""
    query = select(Conversation).where(_kept())
    if filters.language:
        query = query.where(col(Conversation.language) == filters.language)
    if filters.channel:
        query = query.where(col(Conversation.channel) == filters.channel)
    if filters.topic:
        query = query.where(col(Conversation.topic) == filters.topic)
    if filters.urgent:
        query = query.where(col(Conversation.urgent))
    if filters.staff_id:
        query = query.where(col(Conversation.assignee_id) == filters.staff_id)
    if filters.since:
        query = query.where(
            col(Conversation.last_message_at) >= _local_midnight(filters.since, timezone)
        )
    if filters.until:
        end = _local_midnight(filters.until + timedelta(days=1), timezone)
        query = query.where(col(Conversation.opened_at) < end)
    if filters.text:
        query = query.where(
            exists().where(
                col(Message.conversation_id) == Conversation.id,
                _text_matches(session, filters.text),
            )
        )
    query = query.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
    conversations = session.exec(query.offset(offset).limit(limit)).all()
    ids = [c.id for c in conversations if c.id is not None]
    names = queries.staff_names(session, {c.assignee_id for c in conversations if c.assignee_id})
    excerpts: dict[int, str] = {}
    if filters.text and ids:
        first = (
            select(func.min(Message.id))
            .where(col(Message.conversation_id).in_(ids), _text_matches(session, filters.text))
            .group_by(col(Message.conversation_id))
        )
        for message in session.exec(select(Message).where(col(Message.id).in_(first))).all():
            excerpts[message.conversation_id] = excerpt(message.text or "", filters.text)
    return [
        Found(c, names.get(c.assignee_id) if c.assignee_id else None, excerpts.get(c.id or 0))
        for c in conversations
    ]


def excerpt(text: str, found: str, width: int = 60) -> str:
    """A stretch of ``text`` around the first place ``found`` is in it."""
    text = " ".join(text.split())
    at = text.lower().find(found.lower())
    if at < 0 or len(text) <= 2 * width:
        return queries.snippet(text)
    start, end = max(0, at - width), min(len(text), at + len(found) + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def earlier_conversations(session: Session, conversation: Conversation) -> list[Found]:
    """The same person's other conversations (still kept), the newest first."""
    others = session.exec(
        select(Conversation)
        .where(
            col(Conversation.contact_id) == conversation.contact_id,
            col(Conversation.id) != conversation.id,
            _kept(),
        )
        .order_by(col(Conversation.opened_at).desc(), col(Conversation.id).desc())
        .limit(EARLIER_SHOWN)
    ).all()
    names = queries.staff_names(session, {c.assignee_id for c in others if c.assignee_id})
    return [Found(c, names.get(c.assignee_id) if c.assignee_id else None, None) for c in others]


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _staff_members(session: Session) -> list[StaffUser]:
    return list(
        session.exec(select(StaffUser).order_by(col(StaffUser.name), col(StaffUser.email))).all()
    )


@router.get("/conversations")
def conversations_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    language: Annotated[str, Query(max_length=8)] = "",
    channel: Annotated[str, Query(max_length=20)] = "",
    topic: Annotated[str, Query(max_length=64)] = "",
    urgent: Annotated[str, Query(max_length=5)] = "",
    staff_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=MAX_SEARCH)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    topics = canned.closing_topics(canned.knowledge(settings), staff.locale)
    known_topics = {topic_id for topic_id, _ in topics} | {"other", "urgent"}
    filters = Filters(
        language=language if language in LANGUAGES else None,
        channel=channel if channel in channels.REGISTRY else None,
        topic=topic if topic in known_topics else None,
        urgent=urgent in ("1", "on", "true"),
        staff_id=staff_id,
        since=_day(since),
        until=_day(until),
        text=" ".join(q.split()),
    )
    found = search(
        session,
        filters,
        timezone=settings.timezone,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    params = {
        k: v
        for k, v in {
            "language": filters.language or "",
            "channel": filters.channel or "",
            "topic": filters.topic or "",
            "urgent": "1" if filters.urgent else "",
            "staff_id": str(filters.staff_id or ""),
            "since": filters.since.isoformat() if filters.since else "",
            "until": filters.until.isoformat() if filters.until else "",
            "q": filters.text,
        }.items()
        if v
    }
    context = {
        "found": found[:PAGE_SIZE],
        "filters": filters,
        "languages": LANGUAGES,
        "channel_kinds": list(channels.REGISTRY),
        "topics": topics,
        "topic_titles": dict(topics),
        "staff_members": _staff_members(session),
        "page_number": page,
        "more": len(found) > PAGE_SIZE,
        "params": params,
    }
    return render(request, "conversations.html", context)
