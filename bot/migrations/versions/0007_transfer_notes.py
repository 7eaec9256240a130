"""transfer notes

A note staff write when they hand a conversation to a colleague is a message (a note,
never sent) that names the colleague: ``message.transfer_to_id``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:28:08.022577
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = 'fk_message_transfer_to_id_staff_user'


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transfer_to_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            FOREIGN_KEY, 'staff_user', ['transfer_to_id'], ['id'], ondelete='SET NULL'
        )


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint(FOREIGN_KEY, type_='foreignkey')
        batch_op.drop_column('transfer_to_id')
