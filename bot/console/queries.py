"""What the console pages show, read from the database."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from bot import handoff
from bot.config import WebchatQueue
from bot.console import reasons, signals
from bot.models import Conversation, ConversationSeen, Direction, Message, Owner, Sender, StaffUser

SNIPPET_LENGTH = 90


@dataclass(frozen=True)
class QueueRow:
    conversation: Conversation
    snippet: str
    media_type: str | None
    assignee: str | None
    first_question: str = ""  # empty when it is also the last message
    reason: str | None = None  # why the person waits (a message id, see ``reasons``)
    topic_title: str | None = None  # the topic the bot was answering
    waiting_since: datetime | None = None  # the person's oldest message without an answer
    unread: bool = False


@dataclass(frozen=True)
class QueueView:
    waiting: list[QueueRow]
    mine: list[QueueRow]
    colleagues: list[QueueRow]


def snippet(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= SNIPPET_LENGTH else text[: SNIPPET_LENGTH - 1] + "…"


def last_inbound(session: Session, conversation_ids: list[int]) -> dict[int, Message]:
    if not conversation_ids:
        return {}
    newest = (
        select(func.max(Message.id))
        .where(
            col(Message.conversation_id).in_(conversation_ids),
            col(Message.direction) == Direction.inbound,
        )
        .group_by(col(Message.conversation_id))
    )
    messages = session.exec(select(Message).where(col(Message.id).in_(newest))).all()
    return {message.conversation_id: message for message in messages}


def first_questions(session: Session, conversation_ids: list[int]) -> dict[int, Message]:
    """Each conversation's first written message (not a button tap, not only media)."""
    if not conversation_ids:
        return {}
    first = (
        select(func.min(Message.id))
        .where(
            col(Message.conversation_id).in_(conversation_ids),
            col(Message.direction) == Direction.inbound,
            col(Message.text).is_not(None),
            col(Message.button).is_(None),
        )
        .group_by(col(Message.conversation_id))
    )
    messages = session.exec(select(Message).where(col(Message.id).in_(first))).all()
    return {message.conversation_id: message for message in messages}


def unanswered_since(session: Session, conversations: list[Conversation]) -> dict[int, datetime]:
    """When the person's oldest message without a staff answer after it was written.

    Only a staff member's message answers: the bot's replies do not (a person in the
    queue waits for staff). Before any staff message, a conversation handed to staff
    counts from the handoff. Conversations whose last message from the person has been
    answered are left out.
    """
    ids = [c.id for c in conversations if c.id is not None]
    if not ids:
        return {}
    last_staff = {
        cid: newest
        for cid, newest in session.exec(
            select(Message.conversation_id, func.max(Message.id))
            .where(
                col(Message.conversation_id).in_(ids),
                col(Message.direction) == Direction.outbound,
                col(Message.sender) == Sender.staff,
            )
            .group_by(col(Message.conversation_id))
        ).all()
        if newest is not None
    }
    inbound = session.exec(
        select(Message.conversation_id, Message.id, Message.created_at)
        .where(col(Message.conversation_id).in_(ids), col(Message.direction) == Direction.inbound)
        .order_by(col(Message.id))
    ).all()
    since: dict[int, datetime] = {}
    for conversation_id, message_id, created_at in inbound:
        if conversation_id not in since and (message_id or 0) > last_staff.get(conversation_id, 0):
            since[conversation_id] = created_at
    for conversation in conversations:
        cid = conversation.id or 0
        if cid in since and cid not in last_staff and conversation.queued_at is not None:
            since[cid] = conversation.queued_at  # waiting for staff since the handoff
    return since


def last_unanswered(session: Session, conversation_id: int) -> bool:
    """Whether the person's last message came after the last message a staff member sent."""
    newest = {
        direction: message_id or 0
        for direction, message_id in session.exec(
            select(Message.direction, func.max(Message.id))
            .where(
                col(Message.conversation_id) == conversation_id,
                col(Message.direction).in_((Direction.inbound, Direction.outbound)),
                (col(Message.direction) == Direction.inbound)
                | (col(Message.sender) == Sender.staff),
            )
            .group_by(col(Message.direction))
        ).all()
    }
    return newest.get(Direction.inbound, 0) > newest.get(Direction.outbound, 0)


def queue_view(
    session: Session,
    staff_id: int,
    webchat_queue: WebchatQueue,
    topic_titles: Mapping[str, str] | None = None,
) -> QueueView:
    waiting = handoff.waiting(session, webchat_queue=webchat_queue)
    held = list(
        session.exec(
            select(Conversation)
            .where(col(Conversation.owner) == Owner.staff)
            .order_by(*handoff.queue_order(webchat_queue))
        ).all()
    )
    conversations = waiting + held
    ids = [c.id for c in conversations if c.id is not None]
    lasts = last_inbound(session, ids)
    firsts = first_questions(session, ids)
    since = unanswered_since(session, conversations)
    unread = signals.unread(session, staff_id, ids)
    names = {
        user.id: user.name or user.email
        for user in session.exec(
            select(StaffUser).where(
                col(StaffUser.id).in_({c.assignee_id for c in held if c.assignee_id})
            )
        ).all()
    }

    def row(conversation: Conversation) -> QueueRow:
        cid = conversation.id or 0
        message = lasts.get(cid)
        first = firsts.get(cid)
        return QueueRow(
            conversation=conversation,
            snippet=snippet(message.text if message else None),
            media_type=message.media_type if message else None,
            assignee=names.get(conversation.assignee_id) if conversation.assignee_id else None,
            first_question=snippet(first.text)
            if first and message and first.id != message.id
            else "",
            reason=reasons.reason(conversation),
            topic_title=reasons.topic_title(conversation, topic_titles or {}),
            waiting_since=since.get(cid),
            unread=cid in unread,
        )

    return QueueView(
        waiting=[row(c) for c in waiting],
        mine=[row(c) for c in held if c.assignee_id == staff_id],
        colleagues=[row(c) for c in held if c.assignee_id != staff_id],
    )


def queue_version(session: Session, now: datetime, staff_id: int | None = None) -> str:
    """Changes whenever the queue page would look different (and once a minute); with
    ``staff_id``, also when that staff member reads a conversation (unread markers)."""
    rows = session.exec(
        select(
            col(Conversation.id),
            col(Conversation.owner),
            col(Conversation.assignee_id),
            col(Conversation.urgent),
        ).where(col(Conversation.owner).in_((Owner.queue, Owner.staff)))
    ).all()
    newest_message = session.exec(select(func.max(Message.id))).one()
    seen = (
        session.exec(
            select(func.count(), func.sum(ConversationSeen.message_id)).where(
                col(ConversationSeen.staff_id) == staff_id
            )
        ).one()
        if staff_id is not None
        else None
    )
    digest = hashlib.sha256(repr((sorted(rows), newest_message, seen)).encode()).hexdigest()
    return f"{digest}:{int(now.timestamp()) // 60}"


def transcript(session: Session, conversation_id: int) -> list[Message]:
    return list(
        session.exec(
            select(Message)
            .where(col(Message.conversation_id) == conversation_id)
            .order_by(col(Message.id))
        ).all()
    )


def conversation_version(session: Session, conversation_id: int) -> tuple[object, ...]:
    """Changes when a message arrives, a delivery status changes, or the owner changes."""
    state = session.exec(
        select(Conversation.owner, Conversation.assignee_id, Conversation.urgent).where(
            col(Conversation.id) == conversation_id
        )
    ).first()
    messages = session.exec(
        select(Message.id, Message.status).where(col(Message.conversation_id) == conversation_id)
    ).all()
    return (tuple(state) if state else None, tuple(sorted(messages)))


def colleagues(session: Session, staff_id: int) -> list[StaffUser]:
    return list(
        session.exec(
            select(StaffUser)
            .where(col(StaffUser.active), col(StaffUser.id) != staff_id)
            .order_by(col(StaffUser.name), col(StaffUser.email))
        ).all()
    )


def staff_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    users = session.exec(select(StaffUser).where(col(StaffUser.id).in_(ids))).all()
    return {user.id: user.name or user.email for user in users if user.id is not None}
