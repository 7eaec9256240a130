"""outbox priority

The outbox sends by ``message.priority`` first: replies to people writing now (0)
before bulk work such as broadcasts (1).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:59:10.367392
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('priority')
