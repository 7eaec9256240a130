"""shift signals and snippets

What a staff shift needs: how far each staff member has read each conversation
(``conversation_seen``, for unread markers), their own snippets for the reply box
(``staff_snippet``), and the kind of emergency the matcher saw, for the queue
(``conversation.urgent_kind``; existing conversations have none).

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03 11:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_snippet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staff_snippet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_snippet_staff_id'), ['staff_id'], unique=False)

    op.create_table('conversation_seen',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('staff_id', 'conversation_id')
    )
    with op.batch_alter_table('conversation_seen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_seen_conversation_id'), ['conversation_id'], unique=False)

    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgent_kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_column('urgent_kind')

    with op.batch_alter_table('conversation_seen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_seen_conversation_id'))

    op.drop_table('conversation_seen')
    with op.batch_alter_table('staff_snippet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_snippet_staff_id'))

    op.drop_table('staff_snippet')
