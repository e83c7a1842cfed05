"""subscriptions record the issuer and time of the token that made them active

Revision ID: a7c31e9d5b20
Revises: 328033863e73
Create Date: 2026-12-06 21:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a7c31e9d5b20'
down_revision: str | None = '328033863e73'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issuer', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('authorized_at', sa.DateTime(timezone=True), nullable=True))
    # Existing subscriptions: active since they were made, by a token of any issuer.
    op.execute("UPDATE webhook_subscriptions SET authorized_at = created_at")
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.alter_column('authorized_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('authorized_at')
        batch_op.drop_column('issuer')
