"""Erasing a person: "delete my data", ``helpline contact erase`` and the console.

One routine deletes conversations (their messages go, their anonymous contact
records stay, unlinked). An erasure asked for in a chat keeps one message, the
goodbye, until it is sent (it needs the address); the conversation is marked
``ERASED`` and the ``finish_erasures`` job erases the rest once the goodbye is out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.conversations import BATCH, forget_flow_state, lock_contact
from bot.db import session_scope
from bot.models import (
    BroadcastRecipient,
    Contact,
    ContactRecord,
    Conversation,
    Message,
    MessageStatus,
    Owner,
)

ERASED = "erased"  # Conversation.outcome of an erased conversation waiting to be deleted
GIVE_UP_AFTER = timedelta(hours=1)  # the goodbye of an erasure could not be sent


def delete_conversations(session: Session, conversation_ids: Sequence[int | None]) -> None:
    """Delete conversations and their messages; their contact records stay, unlinked."""
    ids = [i for i in conversation_ids if i is not None]
    if not ids:
        return
    session.exec(
        update(ContactRecord)
        .where(col(ContactRecord.conversation_id).in_(ids))
        .values(conversation_id=None)
    )
    session.exec(delete(Message).where(col(Message.conversation_id).in_(ids)))
    session.exec(delete(Conversation).where(col(Conversation.id).in_(ids)))


def erase_contact(session: Session, contact_id: int) -> bool:
    """Erase a person: their contact, conversations, messages and broadcast history.

    Contact records keep only what is anonymous (channel, language, topic, times).
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        return False
    session.exec(delete(BroadcastRecipient).where(col(BroadcastRecipient.contact_id) == contact_id))
    delete_conversations(
        session,
        session.exec(select(Conversation.id).where(Conversation.contact_id == contact_id)).all(),
    )
    session.delete(contact)
    return True


def erase_but_goodbye(
    session: Session, contact: Contact, kept: Conversation, *, now: datetime
) -> None:
    """Erase the person's data now, but for the goodbye just queued in ``kept``.

    That one message needs the channel address until it is sent; ``finish_erasures``
    then erases the contact too.
    """
    goodbye = session.exec(
        select(Message.id)
        .where(Message.conversation_id == kept.id, Message.sender == "bot")
        .order_by(col(Message.id).desc())
    ).first()
    conversations = session.exec(
        select(Conversation).where(Conversation.contact_id == contact.id)
    ).all()
    for conversation in conversations:
        conversation.owner = Owner.closed
        conversation.closed_at = conversation.closed_at or now
    kept.outcome = ERASED
    session.flush()
    session.exec(
        delete(Message).where(col(Message.conversation_id) == kept.id, col(Message.id) != goodbye)
    )
    delete_conversations(session, [c.id for c in conversations if c.id != kept.id])
    session.exec(delete(BroadcastRecipient).where(col(BroadcastRecipient.contact_id) == contact.id))
    contact.language, contact.language_chosen, contact.consent_at = None, False, None
    forget_flow_state(contact)


WEBCHAT_SHOWN_FOR = timedelta(minutes=1)  # /try polls every second


def _on_the_page(session: Session, conversation: Conversation, now: datetime) -> int | None:
    """On the /try page, "sent" only means the page may fetch it: a goodbye sent a
    moment ago is kept long enough for an open page to show it."""
    return session.exec(
        select(Message.id).where(
            Message.conversation_id == conversation.id,
            col(Message.sent_at) > now - WEBCHAT_SHOWN_FOR,
        )
    ).first()


def finish_erasures(engine: Engine, settings: Settings, *, now: datetime) -> int:
    """Finish erasures: once the goodbye is sent (or an hour has passed), erase the rest."""
    unsent = (MessageStatus.queued, MessageStatus.sending, MessageStatus.held)
    with session_scope(engine) as session:
        erased = session.exec(
            select(Conversation)
            .where(Conversation.outcome == ERASED)
            .limit(BATCH)
            .with_for_update(skip_locked=True)  # another instance is finishing those
        ).all()
        done = 0
        for conversation in erased:
            waiting = session.exec(
                select(Message.id).where(
                    Message.conversation_id == conversation.id, col(Message.status).in_(unsent)
                )
            ).first()
            if waiting is None and conversation.channel == "webchat":
                waiting = _on_the_page(session, conversation, now)
            closed_at = conversation.closed_at or now
            if waiting is not None and now - closed_at < GIVE_UP_AFTER:
                continue
            # A message of theirs being stored now holds this lock: wait for it, so that
            # it counts as coming back instead of being deleted with the contact.
            lock_contact(session, conversation.contact_id)
            came_back = session.exec(
                select(Conversation.id).where(
                    Conversation.contact_id == conversation.contact_id,
                    Conversation.id != conversation.id,
                )
            ).first()
            if came_back is None:
                erase_contact(session, conversation.contact_id)
            else:  # the person wrote again since: keep their new conversation
                session.expunge(conversation)
                delete_conversations(session, [conversation.id])
            done += 1
        return done
