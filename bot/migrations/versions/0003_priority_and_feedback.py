"""conversation priority and answer feedback

A flow can mark a conversation for staff priority without the emergency answer
(``conversation.priority``: the queue shows it and takes it after urgent ones, before
those that waited longer); "did this help?" is counted per topic, anonymously
(``answer_feedback``). Existing conversations are not priority.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('answer_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('helped', sa.Boolean(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('answer_feedback', schema=None) as batch_op:
        batch_op.create_index('ix_answer_feedback_topic', ['topic', 'created_at', 'helped'], unique=False)
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_column('priority')
    with op.batch_alter_table('answer_feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_answer_feedback_topic')
    op.drop_table('answer_feedback')
