"""statistics by their definitions

"First staff answer" is the first message a staff member sent, never the bot's reply
(``conversation.first_response_at``), and counts from the handoff
(``contact_record.handed_off_at``); the bot's first reply is a figure of its own
(``bot_first_response_at``); the outcome chosen at closing is on the contact record; a
chat is handled by staff only once a staff member wrote in it. See docs/statistics.md.

Existing rows are recomputed from their messages (kept, without their text, after
retention): records of conversations that were erased keep what they had.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST = (
    "(SELECT MIN(message.created_at) FROM message"
    " WHERE message.conversation_id = conversation.id AND message.sender = '{sender}')"
)
OF_CONVERSATION = (
    "(SELECT conversation.{column} FROM conversation"
    " WHERE conversation.id = contact_record.conversation_id)"
)


def upgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bot_first_response_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('contact_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handed_off_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('bot_first_response_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index('ix_contact_record_outcome', ['started_at', 'outcome', 'channel', 'language'], unique=False)
        batch_op.drop_index('ix_contact_record_language')
        batch_op.drop_index('ix_contact_record_topic')
        batch_op.create_index('ix_contact_record_language', ['language', 'handled_by', 'handed_off', 'started_at'], unique=False)
        batch_op.create_index('ix_contact_record_topic', ['topic', 'handled_by', 'handed_off', 'started_at'], unique=False)
        batch_op.create_index('ix_contact_record_times', ['started_at', 'channel', 'handed_off_at', 'first_response_at', 'bot_first_response_at'], unique=False)

    op.execute(
        "UPDATE conversation SET"
        f" first_response_at = {FIRST.format(sender='staff')},"
        f" bot_first_response_at = {FIRST.format(sender='bot')}"
    )
    live = (
        " WHERE contact_record.conversation_id IS NOT NULL AND EXISTS (SELECT 1 FROM conversation"
        " WHERE conversation.id = contact_record.conversation_id)"
    )
    op.execute(
        "UPDATE contact_record SET"
        f" first_response_at = {OF_CONVERSATION.format(column='first_response_at')},"
        f" bot_first_response_at = {OF_CONVERSATION.format(column='bot_first_response_at')},"
        f" outcome = {OF_CONVERSATION.format(column='outcome')},"
        f" handled_by = CASE WHEN {OF_CONVERSATION.format(column='first_response_at')} IS NULL"
        " THEN 'bot' ELSE 'staff' END" + live
    )
    op.execute(
        "UPDATE contact_record SET"
        f" handed_off_at = {OF_CONVERSATION.format(column='queued_at')}"
        + live
        + " AND contact_record.handed_off"
    )


def downgrade() -> None:
    with op.batch_alter_table('contact_record', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_record_times')
        batch_op.drop_index('ix_contact_record_outcome')
        batch_op.drop_index('ix_contact_record_topic')
        batch_op.drop_index('ix_contact_record_language')
        batch_op.create_index('ix_contact_record_topic', ['topic', 'handled_by', 'started_at'], unique=False)
        batch_op.create_index('ix_contact_record_language', ['language', 'handled_by', 'started_at'], unique=False)
        batch_op.drop_column('outcome')
        batch_op.drop_column('bot_first_response_at')
        batch_op.drop_column('handed_off_at')
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_column('bot_first_response_at')
