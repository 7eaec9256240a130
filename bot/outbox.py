"""The outbox: every outbound message is stored first, then sent by a worker.

Outbound ``Message`` rows are the queue. ``enqueue`` stores one (status "queued", or
"held" behind an approved template when the WhatsApp 24-hour window is closed);
``send_due`` claims due rows and sends them through their channel, retrying
transient failures with exponential backoff and jitter (at least the provider's
``Retry-After``) and recording permanent ones as "failed" for staff.

Exactly once where the provider can be asked, at least once where it cannot. A
send can reach the provider without our knowing: the worker crashes after the
provider accepted the message but before "sent" was written, or the answer is lost
(a read timeout, a connection closed after the request left). Such a row is "in
doubt": ``in_doubt_since`` holds when its first doubtful attempt began (every claim
sets it; "sent" and a refusal from the provider clear it). Before sending an
in-doubt message again, the outbox asks the channel what the provider accepted for
that person since then (``Channel.find_sent``): Twilio lists its messages, so a
WhatsApp reply the provider already has is recorded as sent, with Twilio's id, and
not sent again. The Telegram Bot API keeps no such list, and neither provider takes
an idempotency key, so an in-doubt Telegram message is sent again: a possible
double, never a loss (the alternative, "at most once", could silently lose an
answer to a person in distress). The window is one HTTP round trip; the
``helpline_outbox_in_doubt_total`` metric counts what happened to each such message.
Every other failure (5xx, 429, a refused connection) is retried without doubles
because the provider answered that it did not take the message.

Messages of one conversation go out in order: a message is due only when no
earlier outbound message of its conversation is still queued or being sent, so a
batch holds at most one message per conversation.

Replies before bulk work: rows are claimed by ``priority`` (``REPLY`` before ``BULK``,
broadcasts). Each channel keeps to its rate (``HELPLINE_OUTBOX_RATES``, the providers'
documented throughput) and claims about a second's worth at a time, so a reply waits at
most for that round; a 429 halves the channel's rate for a while (``Pace``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from sqlalchemy import Engine, and_, bindparam, exists, func, or_, tuple_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.channels import Channel, Channels, SendError, transport
from bot.config import Settings
from bot.db import session_scope
from bot.messages import Button, Outbound
from bot.models import (
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    utcnow,
)
from bot.ops import observability
from bot.privacy.addresses import decrypt_address

log = logging.getLogger(__name__)

PENDING = (MessageStatus.queued, MessageStatus.sending)
# A delivery callback never moves a message backwards (they arrive in any order).
STATUS_RANK = {
    MessageStatus.sending: 0,
    MessageStatus.sent: 1,
    MessageStatus.delivered: 2,
    MessageStatus.read: 3,
}


# --- storing ------------------------------------------------------------------------

REPLY = 0  # a reply to someone writing now, or staff's message: sent first
BULK = 1  # work nobody waits for (broadcasts): sent when no reply is due


def enqueue(
    session: Session,
    conversation: Conversation,
    text: str,
    *,
    settings: Settings,
    sender: str,
    staff_id: int | None = None,
    buttons: list[Button] | None = None,
    language: str | None = None,
    now: datetime | None = None,
    priority: int = REPLY,
    template_sid: str | None = None,
) -> Message:
    """Store an outbound message for the worker to send; returns it (flushed, with an id).

    The worker sends by ``priority`` first (``REPLY`` before ``BULK``), then in order.

    A text longer than the channel allows is stored as several messages, split at
    paragraph, line or word boundaries; the buttons go with the last one, which is
    returned. On WhatsApp, when the person's last message is older than 24 hours,
    the approved template for the language (``HELPLINE_TWILIO_TEMPLATE_SIDS``, else
    English) is queued first, once, and the message is "held" until they write again
    (``release_held``); ``template_sid`` chooses another template (a broadcast's).

    A reply never waits behind bulk work: the conversation's bulk messages still
    queued before it are sent as replies too (its own messages keep their order).
    """
    now = now or utcnow()
    assert conversation.id is not None
    language = language or conversation.language
    status = MessageStatus.queued
    kind = transport(conversation.channel)
    if kind.reply_window is not None:
        contact = session.get(Contact, conversation.contact_id)
        if contact is not None and not reply_window_open(contact, now):
            status = MessageStatus.held
            template_sid = template_sid or kind.template_sid(settings, language or "en")
            _queue_template_once(session, conversation, language, now, template_sid, priority)
    if priority == REPLY:
        session.execute(
            update(Message)
            .where(
                col(Message.conversation_id) == conversation.id,
                col(Message.status) == MessageStatus.queued,
                col(Message.priority) > REPLY,
            )
            .values(priority=REPLY)
            .execution_options(synchronize_session=False)
        )
    parts = split_text(text, kind.max_text)
    message: Message | None = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        message = Message(
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction=Direction.outbound,
            sender=sender,
            staff_id=staff_id,
            text=part,
            buttons=[{"payload": b.payload, "title": b.title} for b in buttons]
            if buttons and last
            else None,
            language=language,
            status=status,
            priority=priority,
            next_attempt_at=now if status == MessageStatus.queued else None,
            created_at=now,
        )
        session.add(message)
    session.flush()
    assert message is not None
    return message


def reply_window_open(contact: Contact, now: datetime) -> bool:
    """Whether free text may be sent to this person now (always, on most channels)."""
    window = transport(contact.channel).reply_window
    if window is None:
        return True
    last = contact.last_inbound_at
    return last is not None and now - last < window


def _queue_template_once(
    session: Session,
    conversation: Conversation,
    language: str | None,
    now: datetime,
    template_sid: str | None,
    priority: int = REPLY,
) -> None:
    """The template that reopens the window, unless one is already waiting for a reply."""
    assert conversation.id is not None
    if _has_held(session, conversation.contact_id):
        return
    if not template_sid:
        log.warning(
            "%s reply window closed and no template configured; message held",
            conversation.channel,
        )
        return
    session.add(
        Message(
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction=Direction.outbound,
            sender="bot",
            template_sid=template_sid,
            language=language or "en",
            status=MessageStatus.queued,
            priority=priority,
            next_attempt_at=now,
            created_at=now,
        )
    )


def _has_held(session: Session, contact_id: int) -> bool:
    return (
        session.exec(
            select(Message.id)
            .join(Conversation, col(Conversation.id) == Message.conversation_id)
            .where(Conversation.contact_id == contact_id, Message.status == MessageStatus.held)
            .limit(1)
        ).first()
        is not None
    )


def release_held(
    session: Session, contact_id: int | Collection[int], *, now: datetime | None = None
) -> int:
    """Queue the messages held for this contact (or these); the inbox calls it when
    they write."""
    now = now or utcnow()
    ids = [contact_id] if isinstance(contact_id, int) else list(contact_id)
    if not ids:
        return 0
    conversations = select(Conversation.id).where(col(Conversation.contact_id).in_(ids))
    result = session.execute(
        update(Message)
        .where(
            col(Message.status) == MessageStatus.held,
            col(Message.conversation_id).in_(conversations.scalar_subquery()),
        )
        .values(status=MessageStatus.queued, next_attempt_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at the largest natural boundary."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator)
            if cut > limit // 3:
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return pieces


def record_status(
    session: Session, channel: str, provider_message_id: str, status: str, error: str | None
) -> bool:
    """Apply a provider's delivery report; False when the message is unknown."""
    message = session.exec(
        select(Message).where(
            Message.channel == channel,
            Message.provider_message_id == provider_message_id,
            Message.direction == Direction.outbound,
        )
    ).first()
    if message is None:
        return False
    current = STATUS_RANK.get(MessageStatus(message.status), -1)
    if status == MessageStatus.failed:
        if current < STATUS_RANK[MessageStatus.delivered]:
            message.status = MessageStatus.failed
            message.last_error = (error or "delivery failed")[:500]
    elif STATUS_RANK.get(MessageStatus(status), -1) > current:
        message.status = status
    session.add(message)
    return True


# --- sending --------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    message_id: int
    channel: str
    attempts: int
    outbound: Outbound
    check_since: datetime | None = None  # in doubt since then: ask the provider first


def claim_due(
    engine: Engine, settings: Settings, kinds: Sequence[str], *, now: datetime
) -> list[Claim]:
    """Take up to a batch of due messages, each marked "sending" under a lease.

    The batch is claimed by one conditional UPDATE (each row's status and attempts
    unchanged since we read it), which is atomic on SQLite and PostgreSQL alike; on
    PostgreSQL the read also locks the rows, skipping those another worker has locked.
    """
    if not kinds:
        return []
    earlier = aliased(Message)
    earlier_pending = exists().where(
        col(earlier.conversation_id) == Message.conversation_id,
        col(earlier.direction) == Direction.outbound,
        col(earlier.status).in_(PENDING),
        col(earlier.id) < Message.id,
    )
    due = and_(
        col(Message.direction) == Direction.outbound,
        col(Message.channel).in_(list(kinds)),
        or_(
            and_(
                col(Message.status) == MessageStatus.queued,
                or_(col(Message.next_attempt_at).is_(None), col(Message.next_attempt_at) <= now),
            ),
            # a lease that ran out: its worker died mid-send
            and_(
                col(Message.status) == MessageStatus.sending,
                col(Message.next_attempt_at) <= now,
            ),
        ),
        ~earlier_pending,
    )
    lease_until = now + timedelta(seconds=settings.outbox_lease_seconds)
    claims: list[Claim] = []
    with session_scope(engine) as session:
        query = (
            select(Message, Contact.address_enc)
            .join(Conversation, col(Conversation.id) == Message.conversation_id)
            .join(Contact, col(Contact.id) == Conversation.contact_id)
            .where(due)
            .order_by(col(Message.priority), col(Message.id))
            .limit(settings.outbox_batch_size)
        )
        if not settings.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=Message)
        rows = session.exec(query).all()
        if not rows:
            return []
        # One UPDATE for the batch, each row on the condition that its status and
        # attempts are still what was read: RETURNING names the rows this worker won.
        unchanged = [(message.id, message.status, message.attempts) for message, _ in rows]
        won = set(
            session.execute(
                update(Message)
                .where(
                    col(Message.id).in_([row[0] for row in unchanged]),  # the index
                    tuple_(col(Message.id), col(Message.status), col(Message.attempts)).in_(
                        unchanged
                    ),
                )
                .values(
                    status=MessageStatus.sending,
                    attempts=col(Message.attempts) + 1,
                    next_attempt_at=lease_until,
                    # from now until an outcome is written, this attempt is in doubt
                    in_doubt_since=func.coalesce(col(Message.in_doubt_since), now),
                )
                .returning(col(Message.id))
                .execution_options(synchronize_session=False)
            ).scalars()
        )
        for message, address_enc in rows:
            if message.id not in won:
                continue  # another worker took it
            assert message.id is not None
            claims.append(
                Claim(
                    message_id=message.id,
                    channel=message.channel,
                    attempts=message.attempts + 1,
                    outbound=Outbound(
                        address=decrypt_address(settings, address_enc),
                        text=message.text or "",
                        buttons=[Button(**b) for b in message.buttons or []],
                        template_sid=message.template_sid,
                    ),
                    check_since=message.in_doubt_since,
                )
            )
    return claims


def backoff_seconds(
    settings: Settings,
    attempts: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with jitter (half fixed, half random), never below Retry-After."""
    ceiling = min(
        settings.outbox_backoff_max_seconds,
        settings.outbox_backoff_seconds * 2 ** max(0, attempts - 1),
    )
    delay = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@dataclass(frozen=True)
class SendOutcome:
    """How one send went: a provider id, or the error; ``at`` is when it ended.

    ``still_in_doubt``: a failure after which the provider may have the message (it
    did not answer, or it could not be asked), so the next attempt asks first.
    """

    claim: Claim
    at: datetime
    provider_message_id: str | None = None
    error: SendError | None = None
    still_in_doubt: bool = False


def record_outcomes(
    engine: Engine, settings: Settings, outcomes: Sequence[SendOutcome]
) -> list[str]:
    """Write how the sends went, in one transaction; the new status of each."""
    with session_scope(engine) as session:
        sent = [o for o in outcomes if o.error is None]
        if sent:
            _record_all_sent(session, sent)
        return [
            _record_failure(session, settings, o, o.error)
            if o.error is not None
            else MessageStatus.sent
            for o in outcomes
        ]


_SENT = (
    update(Message)
    .where(col(Message.id) == bindparam("claimed"), col(Message.status) == MessageStatus.sending)
    .values(
        status=MessageStatus.sent,
        sent_at=bindparam("at"),
        next_attempt_at=None,
        in_doubt_since=None,
        last_error=None,
    )
)


def _record_all_sent(session: Session, sent: Sequence[SendOutcome]) -> None:
    """The sent messages, in one statement (executemany); one by one if it fails."""
    rows = [
        {"claimed": o.claim.message_id, "at": o.at, "provider_id": o.provider_message_id or ""}
        for o in sent
    ]
    try:
        with session.begin_nested():
            session.connection().execute(
                _SENT.values(provider_message_id=bindparam("provider_id")), rows
            )
        return
    except IntegrityError:
        pass  # one of the ids is taken: find which, one by one
    for outcome in sent:
        _record_sent(session, outcome.claim, outcome.provider_message_id or "", now=outcome.at)


def _record_sent(session: Session, claim: Claim, provider_message_id: str, *, now: datetime) -> str:
    values = {"claimed": claim.message_id, "at": now}
    try:
        with session.begin_nested():
            session.execute(_SENT.values(provider_message_id=provider_message_id), values)
    except IntegrityError:
        # Never seen from a real provider, but it must not leave the message
        # "sending" (it would be sent again): record it sent, without the id.
        log.error("provider id of message %s is already taken", claim.message_id)
        session.execute(_SENT, values)
    return MessageStatus.sent


def _record_failure(
    session: Session, settings: Settings, outcome: SendOutcome, error: SendError
) -> str:
    """Back to "queued" after a backoff, or "failed" for good."""
    claim, now = outcome.claim, outcome.at
    reason = str(error)[:500]
    gave_up = claim.attempts >= settings.outbox_max_attempts
    if error.permanent or gave_up:
        values: dict[str, object] = {
            "status": MessageStatus.failed,
            "next_attempt_at": None,
            "last_error": reason if error.permanent else f"gave up: {reason}"[:500],
        }
    else:
        delay = backoff_seconds(settings, claim.attempts, error.retry_after)
        values = {
            "status": MessageStatus.queued,
            "next_attempt_at": now + timedelta(seconds=delay),
            "last_error": reason,
        }
    if not outcome.still_in_doubt:
        values["in_doubt_since"] = None  # the provider said it did not take it
    session.execute(
        update(Message)
        .where(col(Message.id) == claim.message_id, col(Message.status) == MessageStatus.sending)
        .values(**values)
    )
    return str(values["status"])


class _Recorder:
    """Writes outcomes as sends finish: whatever has finished goes in one transaction.

    A send the database never hears about stays "sending" and goes out again once its
    lease ends, so outcomes are written promptly (not after the slowest send of the
    batch) and retried through a short database hiccup.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._pending: list[SendOutcome] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, outcome: SendOutcome) -> None:
        self._pending.append(outcome)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def flush(self) -> None:
        while self._task is not None and not self._task.done():
            await self._task

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            statuses = await self._write(batch)
            for outcome, status in zip(batch, statuses, strict=True):
                _count(outcome, status)

    async def _write(self, batch: list[SendOutcome]) -> list[str | None]:
        for delay in (0.2, 1.0, 5.0, None):
            try:
                written: list[str | None] = list(
                    await anyio.to_thread.run_sync(
                        lambda: record_outcomes(self.engine, self.settings, batch)
                    )
                )
                return written
            except SQLAlchemyError as exc:
                if delay is None:
                    reason = type(exc).__name__
                    log.error("could not record %d send outcomes: %s", len(batch), reason)
                    return [None] * len(batch)
                await asyncio.sleep(delay)
        return [None] * len(batch)


def _count(outcome: SendOutcome, status: str | None) -> None:
    channel, message_id = outcome.claim.channel, outcome.claim.message_id
    if outcome.error is None:
        observability.OUTBOUND.labels(channel).inc()
    elif status == MessageStatus.failed:
        observability.OUTBOX_FAILURES.labels(channel).inc()
        log.warning("outbound message %s failed for good: %s", message_id, outcome.error)
    else:
        observability.OUTBOX_RETRIES.labels(channel).inc()
        log.info("outbound message %s will be retried: %s", message_id, outcome.error)


async def send_due(engine: Engine, settings: Settings, *, now: datetime, channels: Channels) -> int:
    """The outbox job: send every due message once; returns how many were attempted."""
    clock = _Clock(now, time.monotonic())
    claims = await anyio.to_thread.run_sync(
        lambda: _claim_paced(engine, settings, list(channels), now=now)
    )
    if claims:
        recorder = _Recorder(engine, settings)
        await asyncio.gather(*(_send_one(channels, claim, clock, recorder) for claim in claims))
        await recorder.flush()
    return len(claims)


@dataclass(frozen=True)
class _Clock:
    """The job's ``now``, moved on by the time that has passed since it was read."""

    start: datetime
    monotonic: float

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.monotonic)


ROUND_SECONDS = 1.0  # a channel with a rate claims about this much sending at a time


def _claim_paced(
    engine: Engine, settings: Settings, kinds: list[str], *, now: datetime
) -> list[Claim]:
    """Claims for one round: a channel with a rate gets its own batch, the size of a
    second's sending, so that a slow channel neither holds a fast one back nor makes a
    reply wait long behind a batch of bulk work; the others share one batch."""
    free = [kind for kind in kinds if settings.outbox_rate(kind) is None]
    claims = claim_due(engine, settings, free, now=now)
    for kind in kinds:
        rate = settings.outbox_rate(kind)
        if rate is None:
            continue
        factor = PACES[kind].factor if kind in PACES else 1.0
        size = max(1, math.ceil(rate * factor * ROUND_SECONDS))
        sized = settings.model_copy(update={"outbox_batch_size": size})
        claims += claim_due(engine, sized, [kind], now=now)
    return claims


class Pace:
    """Spaces one channel's sends at its rate (``HELPLINE_OUTBOX_RATES``), in the order
    they were claimed (replies first). A 429 halves the rate; it doubles back after each
    ``SLOWED_FOR`` seconds without one.

    Per process: each instance keeps to the rate on its own.
    """

    SLOWED_FOR = 15.0
    SLOWEST = 1 / 16  # of the configured rate

    def __init__(self) -> None:
        self.next_at = 0.0
        self.factor = 1.0
        self.slowed_at = float("-inf")

    def delay(self, rate: float, now: float) -> float:
        """How long to wait before the next send; reserves its slot."""
        self._recover(now)
        slot = max(now, self.next_at)
        self.next_at = slot + 1.0 / (rate * self.factor)
        return slot - now

    def slow_down(self, now: float) -> None:
        self._recover(now)
        if now - self.slowed_at < 1.0:
            return  # the 429s of sends that were already under way count once
        self.slowed_at = now
        self.factor = max(self.factor / 2, self.SLOWEST)
        log.info("rate limited: sending at %.0f%% of the configured rate", self.factor * 100)

    def _recover(self, now: float) -> None:
        while self.factor < 1.0 and now - self.slowed_at >= self.SLOWED_FOR:
            self.factor = min(1.0, self.factor * 2)
            self.slowed_at += self.SLOWED_FOR


PACES: dict[str, Pace] = {}


async def _keep_pace(settings: Settings, channel: str) -> None:
    rate = settings.outbox_rate(channel)
    if rate is None:
        return
    delay = PACES.setdefault(channel, Pace()).delay(rate, time.monotonic())
    if delay > 0:
        await asyncio.sleep(delay)


async def _send_one(channels: Channels, claim: Claim, clock: _Clock, recorder: _Recorder) -> None:
    channel = channels[claim.channel]
    provider_id: str | None = None
    error: SendError | None = None
    in_doubt = False
    await _keep_pace(recorder.settings, claim.channel)
    try:
        if claim.check_since is not None:
            provider_id = await _already_sent(channel, claim, recorder.engine)
        if provider_id is None:
            provider_id = await channel.send(claim.outbound)
    except SendError as exc:
        error, in_doubt = exc, exc.in_doubt
        if exc.retry_after is not None:  # the provider's 429: slow down
            PACES.setdefault(claim.channel, Pace()).slow_down(time.monotonic())
    except Exception as exc:  # a bug in a channel must not lose the message
        log.exception("channel %s raised unexpectedly", claim.channel)
        error, in_doubt = SendError(f"unexpected {type(exc).__name__}"), True
    # Backoff counts from when the attempt ended (its answer came), not from when the
    # job started: claiming the batch can take a while on a busy database.
    recorder.add(SendOutcome(claim, clock.now(), provider_id, error, still_in_doubt=in_doubt))


async def _already_sent(channel: Channel, claim: Claim, engine: Engine) -> str | None:
    """The provider's id when an in-doubt message did reach it; None to send it (again)."""
    assert claim.check_since is not None
    try:
        found = await channel.find_sent(claim.outbound, claim.check_since)
    except SendError as exc:  # not knowing is no reason to give up on the message
        raise SendError(f"lookup: {exc}", retry_after=exc.retry_after, in_doubt=True) from exc
    if found is None:
        observability.OUTBOX_IN_DOUBT.labels(claim.channel, "unverifiable").inc()
        log.warning(
            "outbound message %s may have been sent already; sending again", claim.message_id
        )
        return None
    taken = await anyio.to_thread.run_sync(lambda: _recorded(engine, claim.channel, found))
    fresh = [provider_id for provider_id in found if provider_id not in taken]
    observability.OUTBOX_IN_DOUBT.labels(claim.channel, "found" if fresh else "not_found").inc()
    if fresh:
        log.info("outbound message %s had reached the provider; not sent again", claim.message_id)
    return fresh[0] if fresh else None


def _recorded(engine: Engine, channel: str, provider_ids: list[str]) -> set[str]:
    """Which of these provider ids are already recorded on our messages."""
    if not provider_ids:
        return set()
    with session_scope(engine) as session:
        rows = session.exec(
            select(Message.provider_message_id).where(
                Message.channel == channel, col(Message.provider_message_id).in_(provider_ids)
            )
        ).all()
        return {provider_id for provider_id in rows if provider_id is not None}
