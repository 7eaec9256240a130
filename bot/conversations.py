"""A conversation's life, from the person's first message to its close.

This module owns the moves that are not staff's (those are ``bot.handoff``): finding or
creating the contact behind a message, opening a conversation, closing the ones the
bot has had no news of for a day. Erasing them is ``bot.privacy.erasure``.

What a contact holds for its conversation (its place in a flow, and in ``flow_data``
what the person asked before answering the privacy notice: their own words) ends with
the conversation: ``forget_flow_state`` on every close, and a new conversation starts
without it.

It also keeps every conversation's anonymous contact record in step, by
construction: a flush that creates a conversation or changes what its record shows
(owner, language, topic, urgency, times, assignee, outcome) updates the record in the same
transaction (``bot.stats.records.sync_record``), so no code path can forget it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.db import session_scope
from bot.models import Contact, ContactRecord, Conversation, Owner
from bot.privacy.addresses import address_hash, address_hashes, encrypt_address
from bot.stats.records import sync_record

IDLE_AFTER = timedelta(hours=24)
RESOLVED_BY_BOT = "resolved_by_bot"
BATCH = 200
# What a contact record shows of its conversation: a change to any of these syncs it.
RECORDED = (
    "channel",
    "language",
    "topic",
    "urgent",
    "opened_at",
    "first_response_at",
    "bot_first_response_at",
    "closed_at",
    "outcome",
    "claimed_at",
    "assignee_id",
    "queued_at",
    "owner",
)


def find_contact(
    session: Session, settings: Settings, channel: str, address: str
) -> Contact | None:
    # Under the current data key, or an old one not yet rotated away (the current first).
    digests = address_hashes(settings, channel, address)
    found = session.exec(
        select(Contact).where(Contact.channel == channel, col(Contact.address_hash).in_(digests))
    ).all()
    return min(found, key=lambda contact: digests.index(contact.address_hash), default=None)


def get_or_create_contact(
    session: Session, settings: Settings, channel: str, address: str
) -> Contact:
    """The contact for this address, created on first contact (safe under concurrency)."""
    contact = find_contact(session, settings, channel, address)
    if contact is not None:
        return contact
    contact = new_contact(settings, channel, address)
    try:
        with session.begin_nested():
            session.add(contact)
            session.flush()
    except IntegrityError:
        # Another request created it first.
        existing = find_contact(session, settings, channel, address)
        assert existing is not None
        return existing
    return contact


def new_contact(settings: Settings, channel: str, address: str) -> Contact:
    """A person's first contact: the address kept only as a keyed hash and encrypted."""
    return Contact(
        channel=channel,
        address_hash=address_hash(settings, channel, address),
        address_enc=encrypt_address(settings, address),
    )


def lock_contact(session: Session, contact_id: int | None) -> bool:
    """Lock a contact's row until commit (PostgreSQL; SQLite has a single writer anyway).

    False when the row is gone.
    """
    locked = select(Contact.id).where(Contact.id == contact_id).with_for_update()
    return session.exec(locked).first() is not None


def open_conversation(session: Session, contact: Contact, *, now: datetime) -> Conversation:
    """The contact's conversation that is not closed, or a new one."""
    # Locked, so that ``close_idle`` cannot close it under a message being stored in it.
    conversation = session.exec(
        select(Conversation)
        .where(Conversation.contact_id == contact.id, Conversation.owner != Owner.closed)
        .order_by(col(Conversation.id).desc())
        .with_for_update()
    ).first()
    if conversation is not None:
        return conversation
    conversation = new_conversation(contact, now)
    session.add(conversation)
    session.flush()
    return conversation


def new_conversation(contact: Contact, at: datetime) -> Conversation:
    """A new conversation of the contact, opened at ``at`` (not yet added). It starts
    from the top of the flows; the person's language and consent stay."""
    forget_flow_state(contact)
    return Conversation(
        contact_id=contact.id or 0,
        channel=contact.channel,
        language=contact.language,
        opened_at=at,
        last_message_at=at,
    )


def forget_flow_state(contact: Contact) -> None:
    """The conversation is over: its place in the flows, and the first question kept
    until the privacy answer (``flow_data["pending"]``, the person's words), go with it."""
    contact.flow = contact.flow_step = None
    contact.flow_data = {}


def close_idle(engine: Engine, settings: Settings, *, now: datetime) -> int:
    """Close bot-owned conversations with no message for 24 hours: resolved by the bot."""
    with session_scope(engine) as session:
        # Skipping locked rows: another instance is closing those, or a message is
        # being stored in them right now (then they are not idle).
        idle = session.exec(
            select(Conversation)
            .where(
                Conversation.owner == Owner.bot,
                col(Conversation.last_message_at) < now - IDLE_AFTER,
            )
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        # Their contacts too, skipping locked ones for the same reason (a message being
        # stored locks its contact first): never waiting here, this cannot deadlock with
        # ``inbox.store``, which locks the contact, then the conversation.
        contacts = {
            contact.id: contact
            for contact in session.exec(
                select(Contact)
                .where(col(Contact.id).in_({c.contact_id for c in idle}))
                .with_for_update(skip_locked=True)
            ).all()
        }
        closed = 0
        for conversation in idle:
            contact = contacts.get(conversation.contact_id)
            if contact is None:
                continue  # being written to: not idle
            conversation.owner = Owner.closed
            conversation.closed_at = now
            conversation.outcome = conversation.outcome or RESOLVED_BY_BOT
            forget_flow_state(contact)
            session.add_all([conversation, contact])
            closed += 1
        return closed


# --- contact records, in step by construction ------------------------------------------

_CHANGED = "helpline_conversations_to_record"
# Each conversation's contact record, once read or made in this transaction: a
# conversation changes several times in one (a message stored, each turn's answer),
# and reading its record each time was one more round trip per flush.
_RECORDS = "helpline_contact_records"


@event.listens_for(Session, "after_flush")
def _note_recorded_changes(session: Session, _context: Any) -> None:
    pending: dict[int, Conversation] = session.info.setdefault(_CHANGED, {})
    records: dict[int, ContactRecord | None] = session.info.setdefault(_RECORDS, {})
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Conversation) or obj.id is None:
            continue
        state = inspect(obj)
        if obj in session.new:
            pending[obj.id] = obj
            records.setdefault(obj.id, None)  # just made: it has no record yet
        elif any(state.attrs[name].history.has_changes() for name in RECORDED):
            pending[obj.id] = obj


@event.listens_for(Session, "after_flush_postexec")
def _sync_records(session: Session, _context: Any) -> None:
    pending: dict[int, Conversation] = session.info.pop(_CHANGED, {})
    records: dict[int, ContactRecord | None] = session.info.setdefault(_RECORDS, {})
    for conversation_id, conversation in pending.items():
        if conversation not in session:
            continue
        known = conversation_id in records
        record = records.get(conversation_id)
        if record is not None and record not in session:  # a savepoint rolled back
            known, record = False, None
        records[conversation_id] = sync_record(session, conversation, record, known=known)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_records(session: Session) -> None:
    session.info.pop(_RECORDS, None)
