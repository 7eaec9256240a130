"""What the console pages show, read from the database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from bot import handoff
from bot.config import WebchatQueue
from bot.models import Conversation, Direction, Message, Owner, StaffUser

SNIPPET_LENGTH = 90


@dataclass(frozen=True)
class QueueRow:
    conversation: Conversation
    snippet: str
    media_type: str | None
    assignee: str | None


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


def queue_view(session: Session, staff_id: int, webchat_queue: WebchatQueue) -> QueueView:
    waiting = handoff.waiting(session, webchat_queue=webchat_queue)
    held = list(
        session.exec(
            select(Conversation)
            .where(col(Conversation.owner) == Owner.staff)
            .order_by(*handoff.queue_order(webchat_queue))
        ).all()
    )
    conversations = waiting + held
    lasts = last_inbound(session, [c.id for c in conversations if c.id is not None])
    names = {
        user.id: user.name or user.email
        for user in session.exec(
            select(StaffUser).where(
                col(StaffUser.id).in_({c.assignee_id for c in held if c.assignee_id})
            )
        ).all()
    }

    def row(conversation: Conversation) -> QueueRow:
        message = lasts.get(conversation.id or 0)
        return QueueRow(
            conversation=conversation,
            snippet=snippet(message.text if message else None),
            media_type=message.media_type if message else None,
            assignee=names.get(conversation.assignee_id) if conversation.assignee_id else None,
        )

    return QueueView(
        waiting=[row(c) for c in waiting],
        mine=[row(c) for c in held if c.assignee_id == staff_id],
        colleagues=[row(c) for c in held if c.assignee_id != staff_id],
    )


def queue_version(session: Session, now: datetime) -> str:
    """Changes whenever the queue page would look different (and once a minute)."""
    rows = session.exec(
        select(
            col(Conversation.id),
            col(Conversation.owner),
            col(Conversation.assignee_id),
            col(Conversation.urgent),
        ).where(col(Conversation.owner).in_((Owner.queue, Owner.staff)))
    ).all()
    newest_message = session.exec(select(func.max(Message.id))).one()
    digest = hashlib.sha256(repr((sorted(rows), newest_message)).encode()).hexdigest()
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
