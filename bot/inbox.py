"""The inbound pipeline: store what a person sent, then let the bot answer it.

``receive`` stores a message in its own transaction before the webhook answers the
provider, so that nothing acknowledged is ever lost; ``InboundWriter`` does the same
for many concurrent webhook requests in one transaction (group commit).
``process_due`` (a worker job) answers stored messages once the person has paused,
so that "hello" / "I have a question" / "about my interview" get one answer, not
three; an urgent message is answered at once. While a conversation waits in the
queue or is with a staff member, the bot stays silent and messages simply join it,
with one exception: "delete my data" (or /delete) is always answered and honoured.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

import anyio
from sqlalchemy import Engine, func, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from bot import audit, outbox
from bot.config import Settings
from bot.conversations import get_or_create_contact, lock_contact, open_conversation
from bot.db import session_scope
from bot.dialogue import turns
from bot.dialogue.engine import FlowEngine, Turn, get_flow_engine
from bot.handoff import request_handoff
from bot.messages import Inbound
from bot.models import (
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    Owner,
    Sender,
)
from bot.nlu.urgent import find_urgent
from bot.ops import ratelimit
from bot.ops.observability import INBOUND
from bot.privacy.erasure import ERASED

log = logging.getLogger(__name__)

BATCH = 200
PROVIDER_ID_MAX, BUTTON_MAX, MEDIA_TYPE_MAX = 128, 128, 64  # the Message columns


# --- storing ------------------------------------------------------------------------


def store(
    session: Session, settings: Settings, inbound: Inbound, *, now: datetime
) -> Message | None:
    """Store one inbound message in the person's open conversation (opened if needed).

    None when ``(channel, provider_message_id)`` was stored before (a provider retry);
    any other integrity error propagates, so that the message is not lost.
    """
    inbound = storable(inbound)
    if _seen(session, inbound):
        return None
    contact = get_or_create_contact(session, settings, inbound.channel, inbound.address)
    # Lock the person before anything else of theirs: when two instances store their
    # messages at the same moment, the second waits here, then finds the conversation
    # the first opened (instead of opening a second one).
    if not lock_contact(session, contact.id):  # erased a moment ago: a new contact now
        session.expunge(contact)
        contact = get_or_create_contact(session, settings, inbound.channel, inbound.address)
    conversation = open_conversation(session, contact, now=now)
    assert conversation.id is not None
    message = Message(
        conversation_id=conversation.id,
        channel=inbound.channel,
        direction=Direction.inbound,
        sender=Sender.user,
        text=inbound.text or turns.button_title(session, conversation, inbound.button),
        button=inbound.button,
        media_type=inbound.media_type,
        media_ref=inbound.media_ref,
        provider_message_id=inbound.provider_message_id,
        status=MessageStatus.received,
        created_at=now,
    )
    if ratelimit.InboundLimit.from_settings(settings).exceeded(session, conversation.id, now):
        conversation.flooded_at = now
        # Stored for staff, not answered by the bot: unless it is an emergency, which
        # is caught before anything else, flood or not.
        if not (message.text and find_urgent(message.text)):
            message.status = MessageStatus.handled
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        if _seen(session, inbound):
            return None  # the same message, stored a moment ago by a concurrent request
        # Anything else (the conversation erased under the insert: a foreign key) must
        # not be acknowledged as stored: it fails, the webhook answers 503 and the
        # provider's retry stores the message, for a new contact if need be.
        raise
    INBOUND.labels(inbound.channel).inc()
    contact.last_inbound_at = now
    conversation.last_message_at = now
    session.add_all([contact, conversation])
    outbox.release_held(session, contact.id or 0, now=now)
    return message


def storable(inbound: Inbound) -> Inbound:
    """The message as every database can hold it, whatever a payload carried.

    PostgreSQL refuses NUL characters, UTF-8 has no lone surrogates (a JSON escape
    can make one), and a few columns are short: a value that does not fit would be
    a database error, so a 503 the provider retries for ever. An over-long message
    id becomes its hash (it still de-duplicates); short fields are cut.
    """

    def clean(value: str | None, limit: int | None = None) -> str | None:
        if value is None:
            return None
        value = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
        return value[:limit] if limit else value

    provider_id = clean(inbound.provider_message_id) or ""
    if len(provider_id) > PROVIDER_ID_MAX:
        provider_id = "sha256:" + hashlib.sha256(provider_id.encode()).hexdigest()
    return replace(
        inbound,
        address=clean(inbound.address) or "",
        provider_message_id=provider_id,
        text=clean(inbound.text),
        button=clean(inbound.button, BUTTON_MAX),
        media_type=clean(inbound.media_type, MEDIA_TYPE_MAX),
        media_ref=clean(inbound.media_ref),
    )


def receive(engine: Engine, settings: Settings, inbound: Inbound) -> bool:
    """Store and commit; False for a duplicate. Database errors propagate (answer 503)."""
    with session_scope(engine) as session:
        return store(session, settings, inbound, now=inbound.received_at) is not None


class Writer(Protocol):
    """Where the webhooks hand a message to be stored (``InboundWriter`` in a running
    app; ``DirectWriter`` when the app runs without its lifespan, as in some tests)."""

    async def store(self, inbound: Inbound) -> bool: ...


class DirectWriter:
    """Stores each message in its own transaction, in a worker thread."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    async def store(self, inbound: Inbound) -> bool:
        return await anyio.to_thread.run_sync(receive, self.engine, self.settings, inbound)


class InboundWriter:
    """Stores inbound messages for the webhooks, many per transaction (group commit).

    Concurrent requests hand their message to one writer; it stores whatever has
    arrived in a single transaction through ``inbox.store`` (a savepoint each, so
    one bad message cannot sink the others) and answers every request once the
    transaction is committed. One writer instead of one thread per request means
    no SQLite lock contention and one commit for many messages; each request still
    waits for its own message to be durable before the provider gets its 2xx.
    """

    def __init__(self, engine: Engine, settings: Settings, max_batch: int = 200) -> None:
        self.engine = engine
        self.settings = settings
        self.max_batch = max_batch
        self._pending: list[tuple[Inbound, asyncio.Future[bool]]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def store(self, inbound: Inbound) -> bool:
        """True once stored and committed, False for a message stored before."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inbound-writer")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((inbound, future))
        self._arrived.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                try:
                    results = await anyio.to_thread.run_sync(self._write, [i for i, _ in batch])
                except BaseException as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)

    def _write(self, batch: list[Inbound]) -> list[bool | BaseException]:
        results: list[bool | BaseException] = [False] * len(batch)
        with self.engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Take SQLite's write lock first. A transaction that has read and then
                # writes fails at once ("database is locked") when another connection
                # committed in between; BEGIN IMMEDIATE waits for the lock instead.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                # The session must join *this* transaction: one it began itself would
                # be rolled back when it closes, and the commit below would store nothing.
                connection.begin()
            with Session(
                bind=connection, expire_on_commit=False, join_transaction_mode="rollback_only"
            ) as session:
                # Person by person, in one order on every instance (and each person's
                # messages in the order they came): ``inbox.store`` locks the person
                # first, so two instances' batches wait for each other instead of
                # deadlocking, which would fail both with a 503.
                by_person = sorted(
                    range(len(batch)), key=lambda i: (batch[i].channel, batch[i].address)
                )
                for i in by_person:
                    inbound = batch[i]
                    try:
                        with session.begin_nested():
                            stored = store(session, self.settings, inbound, now=inbound.received_at)
                        results[i] = stored is not None
                    except SQLAlchemyError:
                        raise  # the database is unwell: the whole batch answers 503
                    except Exception as exc:  # a bug with one message must not fail the rest
                        log.exception("%s message could not be stored", inbound.channel)
                        results[i] = exc
                session.flush()
            connection.commit()
        return results

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _seen(session: Session, inbound: Inbound) -> bool:
    return (
        session.exec(
            select(Message.id).where(
                Message.channel == inbound.channel,
                Message.provider_message_id == inbound.provider_message_id,
            )
        ).first()
        is not None
    )


# --- answering ----------------------------------------------------------------------


def process_due(
    engine: Engine, settings: Settings, *, now: datetime, flows: FlowEngine | None = None
) -> int:
    """Answer the stored messages that are due; returns how many were handled.

    A conversation's messages are due once its newest one is older than the debounce
    (or at once, when they are urgent or nobody but staff will read them). Several
    workers may run this: each conversation is taken by one of them.
    """
    flows = flows or get_flow_engine(settings)
    debounce = timedelta(seconds=settings.debounce_seconds)
    with Session(engine) as session:
        pending = session.exec(
            select(
                Message.conversation_id,
                func.max(Message.created_at),
                func.min(Conversation.owner),
            )
            .join(Conversation, col(Conversation.id) == Message.conversation_id)
            .where(Message.direction == Direction.inbound, Message.status == MessageStatus.received)
            .group_by(col(Message.conversation_id))
            .limit(BATCH)
        ).all()
        due = [
            conversation_id
            for conversation_id, newest, owner in pending
            if owner != Owner.bot
            or newest <= now - debounce
            or _urgent(session, flows, conversation_id)
        ]
    return sum(
        _process_conversation(engine, flows, conversation_id, now) for conversation_id in due
    )


def _urgent(session: Session, flows: FlowEngine, conversation_id: int) -> bool:
    text = "\n".join(m.text for m in _received(session, conversation_id) if m.text)
    return bool(text.strip()) and flows.matcher.match(text).urgent


def _received(session: Session, conversation_id: int) -> Sequence[Message]:
    return session.exec(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.inbound,
            Message.status == MessageStatus.received,
        )
        .order_by(col(Message.id))
    ).all()


class _Taken(Exception):
    """Another worker handles this conversation."""


def _process_conversation(
    engine: Engine, flows: FlowEngine, conversation_id: int, now: datetime
) -> int:
    try:
        with session_scope(engine) as session:
            return _answer(session, flows, conversation_id, now)
    except _Taken:
        return 0


def _answer(session: Session, flows: FlowEngine, conversation_id: int, now: datetime) -> int:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return 0
    contact = session.exec(
        select(Contact)
        .where(Contact.id == conversation.contact_id)
        .with_for_update(skip_locked=True)
    ).first()
    if contact is None:
        raise _Taken
    messages = _received(session, conversation_id)
    claimed = session.execute(
        update(Message)
        .where(
            col(Message.id).in_([m.id for m in messages]),
            col(Message.status) == MessageStatus.received,
        )
        .values(status=MessageStatus.handled)
        .execution_options(synchronize_session=False)
    )
    if not messages or claimed.rowcount != len(messages):  # type: ignore[attr-defined]
        raise _Taken
    session.refresh(conversation)
    if conversation.owner != Owner.bot:
        _raise_urgency(session, flows, conversation, messages, now)
        _honour_erasure(session, flows, conversation, contact, messages, now)
        return len(messages)
    for turn in turns.turns_of(session, conversation, messages):
        if conversation.owner != Owner.bot:
            break  # handed over mid-batch: the rest is for staff
        for message in turn.messages:
            message.button = turn.turn.button or message.button
        session.flush()
        match = flows.handle(session, conversation, contact, turn.turn, now=now)
        if conversation.outcome == ERASED:
            break  # the person's messages are gone
        if match is not None:
            for message in turn.messages:
                message.topic, message.score = match.topic, match.score
                message.language = match.lang
        session.flush()
    return len(messages)


def _raise_urgency(
    session: Session,
    flows: FlowEngine,
    conversation: Conversation,
    messages: Sequence[Message],
    now: datetime,
) -> None:
    """The bot stays silent while staff have the conversation, but danger moves it up."""
    text = "\n".join(m.text for m in messages if m.text)
    if conversation.urgent or not text.strip() or not flows.matcher.match(text).urgent:
        return
    if conversation.owner == Owner.queue:
        request_handoff(
            session,
            conversation,
            reason="urgent",
            urgent=True,
            hours=flows.hours,
            now=now,
            webchat_queue=flows.settings.webchat_queue,
        )
    else:
        conversation.urgent = True
        session.add(conversation)


def _honour_erasure(
    session: Session,
    flows: FlowEngine,
    conversation: Conversation,
    contact: Contact,
    messages: Sequence[Message],
    now: datetime,
) -> None:
    """Whoever holds the conversation, "delete my data" is answered and done.

    The delete flow runs as it does with the bot: it asks first, and "Yes, delete" says
    goodbye and erases (the conversation leaves the queue or the staff member's list).
    Staff find it in the audit log. Nothing else the person writes is the bot's.
    """
    held = "in the queue" if conversation.owner == Owner.queue else "with staff"
    if conversation.assignee_id is not None:
        held += f" (staff:{conversation.assignee_id})"
    buttons = _answerable_buttons(session, conversation)
    for message in messages:
        payload = message.button or turns.typed_button(message.text, buttons)
        if not flows.flows.asks_to_erase(contact.flow, contact.flow_step, message.text, payload):
            continue
        turn = Turn(button=payload) if payload else Turn(text=message.text)
        flows.handle(session, conversation, contact, turn, now=now)
        buttons = _answerable_buttons(session, conversation)  # the flow may have asked
        if conversation.outcome == ERASED:
            audit.record(
                session,
                audit.Action.erase,
                staff_id=None,
                target=f"conversation:{conversation.id}",
                detail=f"asked for by the person in the chat, while {held}",
                now=now,
            )
            return


def _answerable_buttons(session: Session, conversation: Conversation) -> list[dict[str, str]]:
    """The buttons a typed "1" or title presses while staff hold the conversation: those
    of the bot's question, unless staff have written since (then it answers them)."""
    newest = session.exec(
        select(Message.sender, Message.buttons)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.outbound,
        )
        .order_by(col(Message.id).desc())
    ).first()
    if newest is None:
        return []
    sender, buttons = newest
    return list(buttons or []) if sender == Sender.bot else []
