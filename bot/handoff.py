"""The human queue: who owns a conversation, and the moves between owners.

A conversation has exactly one owner: the bot, the queue, one staff member, or
nobody (closed). Every move that staff make is a single conditional ``UPDATE ...
WHERE owner = ...``, so that two people clicking at the same moment cannot both win:
on PostgreSQL the second UPDATE waits for the first one's row lock and then finds
the condition false; SQLite serialises writers. The caller commits.

The queue has one order, defined once in ``_queue_key``: urgent first, then those
marked for priority, then whoever has waited longest; conversations from an anonymous
channel (the /try web chat) after every other channel's unless
``HELPLINE_WEBCHAT_QUEUE`` is ``normal``, and with ``hidden`` they never join it.
Callers pass ``settings.webchat_queue`` as ``webchat_queue``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, tuple_, update
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, col, select

from bot import channels
from bot.config import WebchatQueue
from bot.conversations import forget_flow_state, lock_contact  # (it syncs contact records too)
from bot.hours import OpeningHours
from bot.models import Contact, Conversation, Owner, StaffUser


class CloseOutcome(StrEnum):
    """How staff closed a conversation."""

    answered = "answered"
    referred = "referred"
    no_reply = "no_reply"
    out_of_scope = "out_of_scope"
    abusive = "abusive"


@dataclass(frozen=True)
class HandoffResult:
    open_now: bool  # staff are working now
    next_opening: datetime | None  # when they are back, if closed
    notify_after_hours: bool  # True only the first time per conversation outside hours
    queued: bool = True  # False: a web chat that the queue does not take (``hidden``)


class HandoffError(ValueError):
    """A move that makes no sense (unknown outcome, inactive colleague, ...)."""


def request_handoff(
    session: Session,
    conversation: Conversation,
    *,
    reason: str,
    urgent: bool,
    hours: OpeningHours,
    now: datetime,
    webchat_queue: WebchatQueue = WebchatQueue.below,
) -> HandoffResult:
    """Put the conversation in the queue (idempotent) and say when staff will answer.

    A conversation already waiting or with a staff member stays where it is, but a
    request can make it urgent (never the other way round). A web chat conversation
    stays with the bot when ``webchat_queue`` is ``hidden``: nothing changes, and the
    result says it was not queued.
    """
    if conversation.owner in (Owner.bot, Owner.closed) and not _queues(conversation, webchat_queue):
        return HandoffResult(
            open_now=hours.is_open(now), next_opening=None, notify_after_hours=False, queued=False
        )
    if conversation.owner in (Owner.bot, Owner.closed):
        conversation.owner = Owner.queue
        conversation.queued_at = now
        conversation.assignee_id = None
        conversation.closed_at = None
        conversation.handoff_reason = reason[:32]
    elif conversation.queued_at is None:
        conversation.queued_at = now
    if urgent and not conversation.urgent:
        conversation.urgent = True
        conversation.handoff_reason = reason[:32]
    conversation.handoff_reason = conversation.handoff_reason or reason[:32]

    session.add(conversation)
    return _when_staff_answer(conversation, hours, now)


def _when_staff_answer(
    conversation: Conversation, hours: OpeningHours, now: datetime
) -> HandoffResult:
    """Whether staff are working now, and whether this conversation is yet to be told
    they are not (said once per conversation)."""
    open_now = hours.is_open(now)
    notify = not open_now and conversation.after_hours_notice_at is None
    if notify:
        conversation.after_hours_notice_at = now
    return HandoffResult(
        open_now=open_now,
        next_opening=None if open_now else hours.next_opening(now),
        notify_after_hours=notify,
    )


RETURNED = "returned"  # the handoff_reason of a person back with the staff member who helped
# How a conversation ended that does not send the person back to the same staff member.
NOT_RETURNED_AFTER = frozenset({"erased", "abusive"})


def returning_staff(
    session: Session, conversation: Conversation, *, within: timedelta, now: datetime
) -> int | None:
    """The staff member who closed this person's last conversation less than ``within``
    ago, if their account is still active: the person goes back to them.

    None when the last close was the bot's (or nobody's), longer ago, erased or closed as
    abusive, or when ``within`` is zero (``HELPLINE_RETURN_TO_STAFF_HOURS=0``).
    """
    if within <= timedelta(0):
        return None
    last = session.exec(
        select(Conversation.assignee_id, Conversation.closed_at, Conversation.outcome)
        .where(
            col(Conversation.contact_id) == conversation.contact_id,
            col(Conversation.id) != conversation.id,
            col(Conversation.owner) == Owner.closed,
            col(Conversation.closed_at).is_not(None),
        )
        .order_by(col(Conversation.closed_at).desc(), col(Conversation.id).desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    staff_id, closed_at, outcome = last
    if staff_id is None or closed_at is None or outcome in NOT_RETURNED_AFTER:
        return None
    if closed_at.tzinfo is None:  # SQLite returns naive UTC
        closed_at = closed_at.replace(tzinfo=UTC)
    if now - closed_at > within:
        return None
    staff = session.get(StaffUser, staff_id)
    return staff_id if staff is not None and staff.active else None


def return_to_staff(
    session: Session,
    conversation: Conversation,
    staff_id: int,
    *,
    hours: OpeningHours,
    now: datetime,
) -> HandoffResult:
    """Give a returning person's conversation straight to the staff member who helped
    them (it is theirs, as if they had taken it from the queue), and say when staff answer."""
    conversation.owner = Owner.staff
    conversation.assignee_id = staff_id
    conversation.queued_at = conversation.queued_at or now
    conversation.claimed_at = now
    conversation.closed_at = None
    conversation.handoff_reason = RETURNED
    session.add(conversation)
    return _when_staff_answer(conversation, hours, now)


def _move(
    session: Session, conversation_id: int, where: list[Any], **values: Any
) -> Conversation | None:
    """One conditional UPDATE; the conversation when it matched, else None."""
    result = session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id, *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    assert conversation is not None
    # The UPDATE bypassed the ORM: mark the move so that the flush records it.
    flag_modified(conversation, "owner")
    return conversation


def _held_by(staff_id: int) -> list[Any]:
    return [col(Conversation.owner) == Owner.staff, col(Conversation.assignee_id) == staff_id]


def claim(
    session: Session, conversation_id: int, staff_id: int, now: datetime
) -> Conversation | None:
    """Take a waiting conversation. None if someone else was faster (or it is not waiting)."""
    return _move(
        session,
        conversation_id,
        [col(Conversation.owner) == Owner.queue],
        owner=Owner.staff,
        assignee_id=staff_id,
        claimed_at=now,
    )


def claim_next(
    session: Session,
    staff_id: int,
    now: datetime,
    *,
    webchat_queue: WebchatQueue = WebchatQueue.below,
) -> Conversation | None:
    """Take the conversation at the top of the queue, skipping ones being claimed."""
    for _ in range(5):
        query = (
            select(Conversation.id)
            .where(col(Conversation.owner) == Owner.queue)
            .order_by(*queue_order(webchat_queue))
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        conversation_id = session.exec(query).first()
        if conversation_id is None:
            return None
        claimed = claim(session, conversation_id, staff_id, now)
        if claimed is not None:
            return claimed
    return None


def release(
    session: Session, conversation_id: int, staff_id: int, now: datetime, *, as_admin: bool = False
) -> Conversation | None:
    """Give the conversation back to the queue; it keeps its place (waiting time)."""
    where = [col(Conversation.owner) == Owner.staff] if as_admin else _held_by(staff_id)
    return _move(session, conversation_id, where, owner=Owner.queue, assignee_id=None)


def transfer(
    session: Session,
    conversation_id: int,
    staff_id: int,
    to_staff_id: int,
    now: datetime,
    *,
    as_admin: bool = False,
) -> Conversation | None:
    """Hand a conversation you hold to a colleague."""
    colleague = session.get(StaffUser, to_staff_id)
    if colleague is None or not colleague.active:
        raise HandoffError("no active colleague with that id")
    where = [col(Conversation.owner) == Owner.staff] if as_admin else _held_by(staff_id)
    return _move(session, conversation_id, where, assignee_id=to_staff_id, claimed_at=now)


def close(
    session: Session,
    conversation_id: int,
    staff_id: int,
    topic: str,
    outcome: str,
    now: datetime,
    *,
    as_admin: bool = False,
) -> Conversation | None:
    """Close a conversation you hold, with the topic it was about and how it ended.

    The contact's state for it (the first question kept until the privacy answer)
    goes with it.
    """
    if outcome not in CloseOutcome.__members__:
        raise HandoffError(f"unknown outcome {outcome!r}")
    if not topic or len(topic) > 64:
        raise HandoffError("a conversation is closed with a topic")
    # The person first, as ``inbox.store`` locks them: a message being stored now is
    # waited for, instead of the two transactions waiting for each other.
    contact_id = session.exec(
        select(Conversation.contact_id).where(col(Conversation.id) == conversation_id)
    ).first()
    if contact_id is None or not lock_contact(session, contact_id):
        return None
    where = [col(Conversation.owner) == Owner.staff] if as_admin else _held_by(staff_id)
    closed = _move(
        session,
        conversation_id,
        where,
        owner=Owner.closed,
        topic=topic,
        outcome=outcome,
        closed_at=now,
    )
    contact = session.get(Contact, contact_id)
    if closed is not None and contact is not None:
        forget_flow_state(contact)
        session.add(contact)
    return closed


def record_staff_reply(session: Session, conversation: Conversation, now: datetime) -> None:
    """Note the first message a staff member sent (the statistics' first staff answer)."""
    if conversation.first_response_at is None:
        conversation.first_response_at = now
    conversation.last_message_at = now
    session.add(conversation)


def _anonymous(kind: str) -> bool:
    return channels.transport(kind).anonymous


def _queues(conversation: Conversation, webchat_queue: WebchatQueue) -> bool:
    """Whether a handoff puts this conversation in the queue."""
    return not (_anonymous(conversation.channel) and webchat_queue == WebchatQueue.hidden)


def _webchat_below(webchat_queue: WebchatQueue) -> bool:
    # ``hidden`` web chats never join; any that joined before it was set wait below.
    return webchat_queue != WebchatQueue.normal


def _queue_key(webchat_queue: WebchatQueue) -> tuple[Any, ...]:
    """The queue's order, once: (web chat last,) urgent first, then priority, then whoever
    has waited longest. ``_position`` is the same for one conversation, in Python."""
    key: list[Any] = [
        case((col(Conversation.urgent), 0), else_=1),
        case((col(Conversation.priority), 0), else_=1),
        col(Conversation.queued_at),
        col(Conversation.id),
    ]
    if _webchat_below(webchat_queue):
        anonymous = [kind for kind in channels.REGISTRY if _anonymous(kind)]
        key.insert(0, case((col(Conversation.channel).in_(anonymous), 1), else_=0))
    return tuple(key)


def _position(conversation: Conversation, webchat_queue: WebchatQueue) -> tuple[Any, ...]:
    position: list[Any] = [
        0 if conversation.urgent else 1,
        0 if conversation.priority else 1,
        conversation.queued_at,
        conversation.id,
    ]
    if _webchat_below(webchat_queue):
        position.insert(0, 1 if _anonymous(conversation.channel) else 0)
    return tuple(position)


def queue_order(webchat_queue: WebchatQueue = WebchatQueue.below) -> list[Any]:
    """``ORDER BY`` terms that put the queue in the order staff should take it."""
    return [term.asc() for term in _queue_key(webchat_queue)]


def waiting_before(
    session: Session,
    conversation: Conversation,
    *,
    webchat_queue: WebchatQueue = WebchatQueue.below,
) -> int:
    """How many people are ahead of this conversation in the queue."""
    assert conversation.queued_at is not None
    session.flush()
    mine = _position(conversation, webchat_queue)
    ahead = session.exec(
        select(func.count())
        .select_from(Conversation)
        .where(
            col(Conversation.owner) == Owner.queue,
            tuple_(*_queue_key(webchat_queue)) < tuple_(*mine),
        )
    ).one()
    return int(ahead)


def waiting(
    session: Session, *, webchat_queue: WebchatQueue = WebchatQueue.below
) -> list[Conversation]:
    """The queue, in the order staff should take it."""
    return list(
        session.exec(
            select(Conversation)
            .where(col(Conversation.owner) == Owner.queue)
            .order_by(*queue_order(webchat_queue))
        ).all()
    )
