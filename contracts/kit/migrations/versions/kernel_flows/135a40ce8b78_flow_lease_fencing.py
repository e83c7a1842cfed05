"""kernel flow store: lease owner and fencing token, and the upstream a waiting flow waits on

Revision ID: 135a40ce8b78
Revises: b4585fa04fd2
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '135a40ce8b78'
down_revision: str | None = 'b4585fa04fd2'
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
