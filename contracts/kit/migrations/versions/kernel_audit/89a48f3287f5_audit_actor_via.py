"""kernel audit trail: the platform client that acted for the actor (actor_via)

Revision ID: 89a48f3287f5
Revises: dd8f7e61310a
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '89a48f3287f5'
down_revision: str | None = 'dd8f7e61310a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kit_audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_via', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kit_audit', schema=None) as batch_op:
        batch_op.drop_column('actor_via')
