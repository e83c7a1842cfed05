"""flow leases are fenced (kit_flows.lease_owner, lease_generation); waiting flows name their upstream (waiting_on)

Revision ID: 8c05677400da
Revises: 3f6d2a9c41b7
Create Date: 2026-12-06 15:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '8c05677400da'
down_revision: str | None = '3f6d2a9c41b7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_generation', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('waiting_on', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.drop_column('waiting_on')
        batch_op.drop_column('lease_generation')
        batch_op.drop_column('lease_owner')
