"""kernel flow store: the message that started a flow, dead-lettered if it stalls

Revision ID: b4585fa04fd2
Revises: b239edc008ca
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b4585fa04fd2'
down_revision: str | None = 'b239edc008ca'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trigger_delivery', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.drop_column('trigger_delivery')
