"""stalled flows go to the dead letters: kit_flows.trigger_delivery keeps the starting message

Revision ID: 8b1e5c7d2f40
Revises: 266955429834
Create Date: 2026-11-23 20:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '8b1e5c7d2f40'
down_revision: str | None = '266955429834'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trigger_delivery', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.drop_column('trigger_delivery')
