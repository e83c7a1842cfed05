"""kernel: outbox, inbox and idempotency keys, in every service's database

Revision ID: 196dea7e8360
Revises: 
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '196dea7e8360'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('kernel',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kit_idempotency_keys',
    sa.Column('principal', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('headers', sa.Text(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('principal', 'key')
    )
    with op.batch_alter_table('kit_idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kit_idempotency_keys_expires_at'), ['expires_at'], unique=False)

    op.create_table('kit_inbox',
    sa.Column('consumer', sa.String(length=100), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'event_id')
    )
    op.create_table('kit_outbox',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('kit_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_kit_outbox_pending', ['published_at', 'seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kit_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_kit_outbox_pending')

    op.drop_table('kit_outbox')
    op.drop_table('kit_inbox')
    with op.batch_alter_table('kit_idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kit_idempotency_keys_expires_at'))

    op.drop_table('kit_idempotency_keys')
