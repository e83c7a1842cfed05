"""signing keys are published before they sign

Revision ID: 5b1f2e7c9a40
Revises: e0d38970414a
Create Date: 2026-12-06 16:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5b1f2e7c9a40'
down_revision: str | None = 'e0d38970414a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('gateway_signing_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signs_from', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('gateway_signing_keys', schema=None) as batch_op:
        batch_op.drop_column('signs_from')
