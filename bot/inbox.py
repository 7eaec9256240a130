"""The inbound pipeline: store what a person sent, then let the bot answer it.

``receive`` stores a message in its own transaction before the webhook answers the
provider, so that nothing acknowledged is ever lost; ``InboundWriter`` does the same
for many concurrent webhook requests in one transaction (group commit).
``process_due`` (a worker job) answers stored messages once the person has paused,
so that "hello" / "I have a question" / "about my interview" get one answer, not
three; an urgent message is answered at once. While a conversation waits in the
queue or is with a staff member, the bot stays silent and messages simply join it,
with two exceptions, always answered and honoured: "delete my data" (or /delete) and
"STOP" (no more broadcasts).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

import anyio
from sqlalchemy import Engine, and_, func, or_, update
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlmodel import Session, col, select

from bot import audit, outbox
from bot.config import Settings
from bot.conversations import (
    get_or_create_contact,
    lock_contact,
    new_contact,
    new_conversation,
    open_conversation,
)
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
from bot.privacy.addresses import address_hashes
from bot.privacy.erasure import ERASED

log = logging.getLogger(__name__)

BATCH = 200
PROVIDER_ID_MAX, BUTTON_MAX, MEDIA_TYPE_MAX = 128, 128, 64  # the Message columns


# --- storing ------------------------------------------------------------------------


def _inbound_message(
    session: Session, conversation: Conversation, inbound: Inbound, now: datetime
) -> Message:
    """The row of what the person sent (a tapped button stored with its title)."""
    assert conversation.id is not None
    return Message(
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
    message = _inbound_message(session, conversation, inbound, now)
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


def store_many(session: Session, settings: Settings, inbounds: Sequence[Inbound]) -> list[bool]:
    """Store several messages with a few statements for them all, as ``store`` would one
    by one; for each, False when it was stored before (a provider retry).

    All or nothing: anything unusual (a concurrent request creating the same person or
    storing the same message, a person erased meanwhile, a database refusing one row)
    raises, and the caller rolls the batch back and stores its messages one by one
    with ``store``, so that one bad message cannot fail the others. Each person is
    locked (PostgreSQL) in one statement, in the order of their ids.
    """
    inbounds = [storable(inbound) for inbound in inbounds]
    results = [False] * len(inbounds)
    seen = _seen_many(session, inbounds)
    fresh: list[int] = []
    for i, inbound in enumerate(inbounds):
        key = (inbound.channel, inbound.provider_message_id)
        if key not in seen:
            seen.add(key)  # twice in one batch: the second is the retry
            fresh.append(i)
    if not fresh:
        return results
    people = sorted({(inbounds[i].channel, inbounds[i].address) for i in fresh})
    contacts = _contacts(session, settings, people)
    first: dict[int, datetime] = {}  # a new conversation opens at its first message
    for i in fresh:
        contact, at = contacts[(inbounds[i].channel, inbounds[i].address)], inbounds[i].received_at
        first[contact.id or 0] = min(at, first.get(contact.id or 0, at))
    conversations = _open_conversations(session, list(contacts.values()), first)
    limit = ratelimit.InboundLimit.from_settings(settings)
    in_batch: dict[int, list[datetime]] = {}  # a new conversation's messages so far
    messages: list[Message] = []
    for i in fresh:
        inbound = inbounds[i]
        now = inbound.received_at
        contact = contacts[(inbound.channel, inbound.address)]
        conversation, new = conversations[contact.id or 0]
        assert conversation.id is not None
        message = _inbound_message(session, conversation, inbound, now)
        if new:  # nothing stored in it yet: the batch is all it holds
            times = in_batch.setdefault(conversation.id, [])
            flooded = (
                limit.messages > 0
                and len(times) >= limit.messages
                and min(times[-limit.messages :]) > now - timedelta(seconds=limit.seconds)
            )
            times.append(now)
        else:
            session.add_all(messages)  # the batch's earlier messages count too
            flooded = limit.exceeded(session, conversation.id, now)
        if flooded:
            conversation.flooded_at = now
            if not (message.text and find_urgent(message.text)):
                message.status = MessageStatus.handled
        messages.append(message)
        contact.last_inbound_at = now
        conversation.last_message_at = now
        results[i] = True
    session.add_all(messages)
    session.flush()
    outbox.release_held(
        session,
        [contact.id or 0 for contact in contacts.values()],
        now=min(inbounds[i].received_at for i in fresh),
    )
    for message in messages:
        INBOUND.labels(message.channel).inc()
    return results


def _seen_many(session: Session, inbounds: Sequence[Inbound]) -> set[tuple[str, str]]:
    keys: dict[str, set[str]] = {}
    for inbound in inbounds:
        keys.setdefault(inbound.channel, set()).add(inbound.provider_message_id)
    found = session.exec(
        select(Message.channel, Message.provider_message_id).where(
            # per channel, so that both databases search the unique index (a row-value
            # IN list makes SQLite scan the table)
            or_(
                *(
                    and_(col(Message.channel) == channel, col(Message.provider_message_id).in_(ids))
                    for channel, ids in keys.items()
                )
            )
        )
    ).all()
    return {(channel, provider_id or "") for channel, provider_id in found}


def _contacts(
    session: Session, settings: Settings, people: list[tuple[str, str]]
) -> dict[tuple[str, str], Contact]:
    """Each person's contact, locked (found under any accepted data key, or created)."""
    digests = {person: address_hashes(settings, *person) for person in people}
    wanted: dict[str, set[str]] = {}
    for (channel, _), hashes in digests.items():
        wanted.setdefault(channel, set()).update(hashes)
    by_hash = {
        (contact.channel, contact.address_hash): contact
        for contact in session.exec(
            select(Contact)
            .where(
                or_(
                    *(
                        and_(col(Contact.channel) == channel, col(Contact.address_hash).in_(hashes))
                        for channel, hashes in wanted.items()
                    )
                )
            )
            .order_by(col(Contact.id))
            .with_for_update()
        ).all()
    }
    contacts: dict[tuple[str, str], Contact] = {}
    created = []
    for person in people:
        channel, address = person
        found = [by_hash[(channel, d)] for d in digests[person] if (channel, d) in by_hash]
        if found:
            contacts[person] = found[0]
            continue
        contact = new_contact(settings, channel, address)
        contacts[person] = contact
        created.append(contact)
    if created:
        session.add_all(created)
        session.flush()  # a concurrent request created one of them: IntegrityError
    return contacts


def _open_conversations(
    session: Session, contacts: list[Contact], first: dict[int, datetime]
) -> dict[int, tuple[Conversation, bool]]:
    """Each contact's conversation that is not closed (locked), or a new one opened at
    ``first[contact id]``: with whether it is new."""
    found: dict[int, tuple[Conversation, bool]] = {}
    for conversation in session.exec(
        select(Conversation)
        .where(
            col(Conversation.contact_id).in_([contact.id for contact in contacts]),
            Conversation.owner != Owner.closed,
        )
        .order_by(col(Conversation.id))
        .with_for_update()
    ).all():
        found[conversation.contact_id] = (conversation, False)  # the newest wins
    opened = []
    for contact in contacts:
        assert contact.id is not None
        if contact.id in found:
            continue
        conversation = new_conversation(contact, first[contact.id])
        found[contact.id] = (conversation, True)
        opened.append(conversation)
    if opened:
        session.add_all(opened)
        session.flush()
    return found


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
    arrived in a single transaction, with ``store_many`` (a few statements for the
    whole batch), or, when that refuses the batch, one by one through ``store`` (a
    savepoint each, so one bad message cannot sink the others: only its own request
    fails), and answers every request once the transaction is committed. One writer
    instead of one thread per request means no SQLite lock contention and one commit
    for many messages; each request still waits for its own message to be durable
    before the provider gets its 2xx.
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
                if len(batch) > 1:
                    try:
                        with session.begin_nested():
                            results[:] = store_many(session, self.settings, batch)
                    except SQLAlchemyError as exc:
                        if _unavailable(exc):
                            raise  # the database is unwell: the whole batch answers 503
                        log.info("batch of %d stored one by one: %r", len(batch), exc)
                        session.expunge_all()
                        self._store_each(session, batch, results)
                    except Exception:  # a bug with one message must not fail the rest
                        log.exception("batch of %d stored one by one", len(batch))
                        session.expunge_all()
                        self._store_each(session, batch, results)
                else:
                    self._store_each(session, batch, results)
                session.flush()
            connection.commit()
        return results

    def _store_each(
        self, session: Session, batch: list[Inbound], results: list[bool | BaseException]
    ) -> None:
        # Person by person, in one order on every instance (and each person's messages
        # in the order they came): ``inbox.store`` locks the person first, so two
        # instances' batches wait for each other instead of deadlocking, which would
        # fail both with a 503.
        by_person = sorted(range(len(batch)), key=lambda i: (batch[i].channel, batch[i].address))
        for i in by_person:
            inbound = batch[i]
            try:
                with session.begin_nested():
                    stored = store(session, self.settings, inbound, now=inbound.received_at)
                results[i] = stored is not None
            except SQLAlchemyError as exc:
                if _unavailable(exc):
                    raise  # the database is unwell: the whole batch answers 503
                # This message only (the webhook answers 503 and the provider retries).
                log.warning("%s message could not be stored: %r", inbound.channel, exc)
                results[i] = exc
            except Exception as exc:  # a bug with one message must not fail the rest
                log.exception("%s message could not be stored", inbound.channel)
                results[i] = exc

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _unavailable(exc: SQLAlchemyError) -> bool:
    """An error of the connection or the database as a whole, not of one message."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, InterfaceError):
        return True
    # SQLite: locked, disk full, I/O error. PostgreSQL's OperationalErrors include a
    # deadlock or a serialisation failure, which one message at a time can avoid.
    return isinstance(exc, OperationalError) and "sqlite" in type(exc.orig).__module__


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
    workers may run this: each conversation is taken by one of them. On PostgreSQL
    several people are answered at once (``ANSWER_THREADS``), each person's
    conversations one after the other, in order.
    """
    flows = flows or get_flow_engine(settings)
    debounce = timedelta(seconds=settings.debounce_seconds)
    with Session(engine) as session:
        pending = session.exec(
            select(
                Message.conversation_id,
                func.max(Message.created_at),
                func.min(Conversation.owner),
                func.min(Conversation.contact_id),
            )
            .join(Conversation, col(Conversation.id) == Message.conversation_id)
            .where(Message.direction == Direction.inbound, Message.status == MessageStatus.received)
            .group_by(col(Message.conversation_id))
            .order_by(col(Message.conversation_id))
            .limit(BATCH)
        ).all()
        by_person: dict[int, list[int]] = {}
        for conversation_id, newest, owner, contact_id in pending:
            if (
                owner != Owner.bot
                or newest <= now - debounce
                or _urgent(session, flows, conversation_id)
            ):
                by_person.setdefault(contact_id, []).append(conversation_id)

    def answer_person(conversation_ids: list[int]) -> int:
        return sum(_process_conversation(engine, flows, c, now) for c in conversation_ids)

    people = list(by_person.values())
    if settings.is_sqlite or len(people) < 2:  # SQLite has one writer: no gain in threads
        return sum(answer_person(conversation_ids) for conversation_ids in people)
    return sum(_answering_pool().map(answer_person, people))


ANSWER_THREADS = 4
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _answering_pool() -> ThreadPoolExecutor:
    """The threads that answer people at once (shared by the process's workers): while
    one waits for PostgreSQL, another runs its flows."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(ANSWER_THREADS, thread_name_prefix="helpline-answer")
        return _pool


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
    # The person first (locked on PostgreSQL, skipping a person another worker
    # answers), then their conversation as it is once they are ours.
    contact = session.exec(
        select(Contact)
        .join(Conversation, col(Conversation.contact_id) == Contact.id)
        .where(Conversation.id == conversation_id)
        .with_for_update(skip_locked=True, of=Contact)
    ).first()
    if contact is None:
        if session.get(Conversation, conversation_id) is None:
            return 0
        raise _Taken
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return 0
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
    if conversation.owner != Owner.bot:
        _raise_urgency(session, flows, conversation, messages, now)
        _honour_requests(session, flows, conversation, contact, messages, now)
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


def _honour_requests(
    session: Session,
    flows: FlowEngine,
    conversation: Conversation,
    contact: Contact,
    messages: Sequence[Message],
    now: datetime,
) -> None:
    """Whoever holds the conversation, "delete my data" and "STOP" are answered and done.

    The delete flow runs as it does with the bot: it asks first, and "Yes, delete" says
    goodbye and erases (the conversation leaves the queue or the staff member's list).
    Staff find it in the audit log. "STOP" stops broadcasts to the person and says so;
    the conversation stays where it is. Nothing else the person writes is the bot's.
    """
    held = "in the queue" if conversation.owner == Owner.queue else "with staff"
    if conversation.assignee_id is not None:
        held += f" (staff:{conversation.assignee_id})"
    buttons = _answerable_buttons(session, conversation)
    for message in messages:
        payload = message.button or turns.typed_button(message.text, buttons)
        flow, step = contact.flow, contact.flow_step
        if not flows.flows.heard_whoever_holds(flow, step, message.text, payload):
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
