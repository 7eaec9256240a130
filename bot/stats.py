"""Contact records: one anonymous row per contact, kept in step as things happen.

Reports read these rows only (never message text), so they are cheap to compute and
survive retention and erasure.
"""

from __future__ import annotations

from sqlmodel import Session, select

from bot.models import ContactRecord, Conversation, HandledBy


def sync_record(session: Session, conversation: Conversation) -> ContactRecord:
    """Upsert the contact record of a conversation from the conversation's state."""
    if conversation.id is None:
        session.flush()
    record = session.exec(
        select(ContactRecord).where(ContactRecord.conversation_id == conversation.id)
    ).first()
    if record is None:
        record = ContactRecord(
            conversation_id=conversation.id, channel=conversation.channel, source="live"
        )
    record.channel = conversation.channel
    record.language = conversation.language
    record.topic = conversation.topic
    record.urgent = conversation.urgent
    record.started_at = conversation.opened_at
    record.first_response_at = conversation.first_response_at
    record.closed_at = conversation.closed_at
    staff_involved = conversation.claimed_at is not None or conversation.assignee_id is not None
    # Sticky: a conversation the bot handed over stays "handed off" even if staff
    # later give it back to the bot or close it.
    record.handed_off = record.handed_off or staff_involved or conversation.queued_at is not None
    if staff_involved or record.handled_by == HandledBy.staff:
        record.handled_by = HandledBy.staff
        record.staff_id = conversation.assignee_id or record.staff_id
    else:
        record.handled_by = HandledBy.bot
    session.add(record)
    return record
