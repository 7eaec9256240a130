"""Inbound flood control: how fast one person may write before the bot stops answering.

A person in need writes a few messages a minute, in fragments; a script, or someone
sending hate in bulk, writes hundreds. Past ``HELPLINE_INBOUND_LIMIT`` messages in
``HELPLINE_INBOUND_LIMIT_SECONDS`` (a sliding window), a conversation's further
messages are still stored, so nothing is lost and staff can read them, but they are
stored already "handled": the bot does not answer them, and the conversation is
marked ``flooded_at`` for staff. Once the person slows down, the bot answers again.

The count comes from the database (the conversation's newest inbound messages), so
it holds across instances, workers and restarts with no shared memory, and it reads
at most ``limit`` rows through the ``(conversation_id, id)`` index whatever the
size of the flood. The messages over the limit count too, so a steady flood stays
limited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.config import Settings
from bot.models import Direction, Message


@dataclass(frozen=True)
class InboundLimit:
    messages: int
    seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> InboundLimit:
        return cls(settings.inbound_limit, settings.inbound_limit_seconds)

    def exceeded(self, session: Session, conversation_id: int, now: datetime) -> bool:
        """Would one more message now be over the limit? (Ask before storing it.)"""
        if self.messages <= 0:
            return False  # no limit
        newest = session.exec(
            select(Message.created_at)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == Direction.inbound,
            )
            .order_by(col(Message.id).desc())
            .limit(self.messages)
        ).all()
        if len(newest) < self.messages:
            return False
        return min(newest) > now - timedelta(seconds=self.seconds)
