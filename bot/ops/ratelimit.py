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

The web chat has a second limit, on *new* chats: each new cookie is a new contact,
so past ``HELPLINE_WEBCHAT_NEW_CONTACTS_PER_HOUR`` from one client address in the
last hour, a new chat is refused (429) before anything of it is stored; chats
already started go on. It counts rows of ``webchat_start`` (a keyed hash of the
address and a time, nothing else), so it too holds across instances.

And a third, on what one web chat sends: nobody needs a provider's account to write
there, so instead of being stored for staff, a message past
``HELPLINE_WEBCHAT_MESSAGES_PER_MINUTE`` in the last minute, or past
``HELPLINE_WEBCHAT_MESSAGES_PER_CHAT`` in all, is refused (429) and not stored.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, delete, select
from starlette.requests import Request

from bot.config import Settings
from bot.models import Contact, Conversation, Direction, Message, WebchatStart

PRUNE_BATCH = 100


def client_network(request: Request) -> str:
    """Who is asking, for the per-client limits: the client's address, or its IPv6 /64.

    ``request.client`` is the address the trusted proxy appended to X-Forwarded-For
    (``helpline serve`` runs uvicorn with ``proxy_headers``; FORWARDED_ALLOW_IPS names
    the proxy), or the peer itself. One IPv6 subscriber holds a whole /64.
    """
    host = request.client.host if request.client else "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        return str(mapped or ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


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


@dataclass(frozen=True)
class NewChatLimit:
    per_hour: int
    window: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> NewChatLimit:
        return cls(settings.webchat_new_contacts_per_hour)

    def admit(self, session: Session, client_hash: str, now: datetime) -> int | None:
        """Count a new chat from this client; None, or the seconds to wait when over.

        Call it in the transaction that stores the chat's first message, before
        anything else: refused, it records nothing. The client's chats are counted
        one request at a time, so a burst of parallel requests cannot all slip in.
        """
        if self.per_hour <= 0:
            return None  # no limit
        since = now - self.window
        # First a write: on SQLite it takes the database's write lock, which serialises
        # this with every other count (and the expired rows go, so none are kept long).
        session.exec(
            delete(WebchatStart).where(
                col(WebchatStart.id).in_(
                    select(WebchatStart.id)
                    .where(col(WebchatStart.started_at) <= since)
                    .limit(PRUNE_BATCH)
                    .with_for_update(skip_locked=True)  # another request is pruning those
                )
            )
        )
        if session.get_bind().dialect.name == "postgresql":  # one client's count at a time
            key = hashlib.blake2b(client_hash.encode(), digest_size=8).digest()
            session.exec(select(func.pg_advisory_xact_lock(int.from_bytes(key, signed=True))))
        newest = session.exec(
            select(WebchatStart.started_at)
            .where(WebchatStart.client_hash == client_hash, col(WebchatStart.started_at) > since)
            .order_by(col(WebchatStart.started_at).desc())
            .limit(self.per_hour)
        ).all()
        if len(newest) >= self.per_hour:
            return max(1, math.ceil((min(newest) + self.window - now).total_seconds()))
        session.add(WebchatStart(client_hash=client_hash, started_at=now))
        session.flush()
        return None


@dataclass(frozen=True)
class WebchatMessageLimit:
    per_minute: int
    per_chat: int
    window: timedelta = timedelta(minutes=1)
    # A full chat takes nothing more: the page says to start a new one, which the
    # new-chat limit allows again within the hour at the latest.
    full_retry_after: int = 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> WebchatMessageLimit:
        return cls(settings.webchat_messages_per_minute, settings.webchat_messages_per_chat)

    def admit(self, session: Session, contact_id: int, now: datetime) -> WebchatRefusal | None:
        """May this chat (a webchat contact) send one more message now? None, or why not.

        Call it in the transaction that stores the message, before anything else: the
        chat's messages are counted one request at a time (the contact is written to
        first: SQLite's write lock, PostgreSQL's row lock, taken in the order the inbox
        takes them), so requests at once cannot all slip under the limit.
        """
        if self.per_minute <= 0 and self.per_chat <= 0:
            return None  # no limit
        session.exec(
            update(Contact)
            .where(col(Contact.id) == contact_id)
            .values(last_inbound_at=Contact.last_inbound_at)
        )
        sent = (
            select(Message.created_at)
            .join(Conversation, col(Conversation.id) == Message.conversation_id)
            .where(Conversation.contact_id == contact_id, Message.direction == Direction.inbound)
        )
        if self.per_chat > 0:
            total = session.exec(
                select(func.count()).select_from(sent.limit(self.per_chat).subquery())
            ).one()
            if total >= self.per_chat:
                return WebchatRefusal(full=True, retry_after=self.full_retry_after)
        if self.per_minute > 0:
            newest = session.exec(
                sent.order_by(col(Message.id).desc()).limit(self.per_minute)
            ).all()
            if len(newest) >= self.per_minute and min(newest) > now - self.window:
                wait = (min(newest) + self.window - now).total_seconds()
                return WebchatRefusal(full=False, retry_after=max(1, math.ceil(wait)))
        return None


@dataclass(frozen=True)
class WebchatRefusal:
    full: bool  # the chat holds all it may; else it writes too fast
    retry_after: int  # seconds
