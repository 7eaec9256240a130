"""What calls for a staff member's attention: unread conversations and new urgent ones.

A conversation is unread for a staff member while it has a message from the person
newer than the newest message they were shown (``ConversationSeen``, moved on each
time the conversation page or its live transcript is rendered for them). Every console
page gets the same two lists live, as a ``signals`` event: the urgent conversations
waiting in the queue and the staff member's own conversations with an unread message.
The browser counts them in the tab title and, for one that was not there before,
plays a sound and shows a notification (``console.js``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, func, select

from bot.models import Conversation, ConversationSeen, Direction, Message, Owner


def mark_seen(session: Session, staff_id: int, conversation_id: int) -> None:
    """The staff member was shown the conversation up to its newest message (the caller
    commits). One upsert, so that two open tabs never collide on the unique key."""
    newest = session.exec(
        select(func.max(Message.id)).where(col(Message.conversation_id) == conversation_id)
    ).one()
    if newest is None:
        return
    seen = session.exec(
        select(ConversationSeen.message_id).where(
            ConversationSeen.staff_id == staff_id,
            ConversationSeen.conversation_id == conversation_id,
        )
    ).first()
    if seen is not None and seen >= newest:
        # Nothing new: no write and no lock (a page polls often; an erasure skips a
        # conversation someone holds, and would wait for as long as the page is open).
        return
    # The conversation is held (key share) until the caller commits: an erasure deleting
    # it meanwhile waits for that, and one that deleted it first leaves nothing to mark.
    # Without the lock, PostgreSQL could read the row, then fail the foreign key when the
    # erasure's delete committed in between, and break the live page that marks it seen.
    held = session.exec(
        select(Conversation.id)
        .where(Conversation.id == conversation_id)
        .with_for_update(key_share=True)
    ).first()
    if held is None:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Selected from the conversation, not given as values: SQLite takes no row locks,
    # and its one writer sees the conversation or not, within this one statement.
    statement = insert(ConversationSeen).from_select(
        ["staff_id", "conversation_id", "message_id"],
        select(literal(staff_id), col(Conversation.id), literal(newest)).where(
            col(Conversation.id) == conversation_id
        ),
    )
    statement = statement.on_conflict_do_update(
        index_elements=["staff_id", "conversation_id"],
        set_={"message_id": func.max(statement.excluded.message_id, ConversationSeen.message_id)}
        if dialect == "sqlite"
        else {
            "message_id": func.greatest(statement.excluded.message_id, ConversationSeen.message_id)
        },
    )
    session.execute(statement)


def unread(session: Session, staff_id: int, conversation_ids: list[int]) -> set[int]:
    """Those of the conversations with a person's message the staff member has not seen."""
    if not conversation_ids:
        return set()
    newest_in = {
        cid: newest or 0
        for cid, newest in session.exec(
            select(Message.conversation_id, func.max(Message.id))
            .where(
                col(Message.conversation_id).in_(conversation_ids),
                col(Message.direction) == Direction.inbound,
            )
            .group_by(col(Message.conversation_id))
        ).all()
    }
    seen = dict(
        session.exec(
            select(ConversationSeen.conversation_id, ConversationSeen.message_id).where(
                col(ConversationSeen.staff_id) == staff_id,
                col(ConversationSeen.conversation_id).in_(conversation_ids),
            )
        ).all()
    )
    return {cid for cid, newest in newest_in.items() if newest > seen.get(cid, 0)}


@dataclass(frozen=True)
class Signals:
    urgent: tuple[int, ...]  # urgent conversations waiting in the queue
    mine: tuple[int, ...]  # the staff member's conversations with an unread message

    def as_json(self) -> str:
        return json.dumps({"urgent": list(self.urgent), "mine": list(self.mine)})


def signals(session: Session, staff_id: int) -> Signals:
    urgent_query = select(Conversation.id).where(
        col(Conversation.owner) == Owner.queue, col(Conversation.urgent)
    )
    urgent = sorted(i for i in session.exec(urgent_query).all() if i is not None)
    held = [
        i
        for i in session.exec(
            select(Conversation.id).where(
                col(Conversation.owner) == Owner.staff,
                col(Conversation.assignee_id) == staff_id,
            )
        ).all()
        if i is not None
    ]
    return Signals(urgent=tuple(urgent), mine=tuple(sorted(unread(session, staff_id, held))))
