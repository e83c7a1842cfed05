"""kernel flow store: flows, their searchable keys and their timelines (contracts/kit/flows/store.py)

Revision ID: b239edc008ca
Revises: 
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b239edc008ca'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('kernel_flows',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kit_flows',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('next_step', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('correlation_id', sa.String(length=128), nullable=False),
    sa.Column('traceparent', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=200), nullable=True),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('trigger')
    )
    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kit_flows_correlation_id'), ['correlation_id'], unique=False)
        batch_op.create_index('ix_kit_flows_due', ['status', 'next_run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kit_flows_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_kit_flows_type'), ['type'], unique=False)
        batch_op.create_index(batch_op.f('ix_kit_flows_updated_at'), ['updated_at'], unique=False)

    op.create_table('kit_flow_keys',
    sa.Column('flow_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['flow_id'], ['kit_flows.id'], ),
    sa.PrimaryKeyConstraint('flow_id', 'name')
    )
    with op.batch_alter_table('kit_flow_keys', schema=None) as batch_op:
        batch_op.create_index('ix_kit_flow_keys_lookup', ['name', 'value'], unique=False)

    op.create_table('kit_flow_timeline',
    sa.Column('flow_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('step', sa.String(length=100), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['flow_id'], ['kit_flows.id'], ),
    sa.PrimaryKeyConstraint('flow_id', 'seq')
    )


def downgrade() -> None:
    op.drop_table('kit_flow_timeline')
    with op.batch_alter_table('kit_flow_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_kit_flow_keys_lookup')

    op.drop_table('kit_flow_keys')
    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kit_flows_updated_at'))
        batch_op.drop_index(batch_op.f('ix_kit_flows_type'))
        batch_op.drop_index(batch_op.f('ix_kit_flows_status'))
        batch_op.drop_index('ix_kit_flows_due')
        batch_op.drop_index(batch_op.f('ix_kit_flows_correlation_id'))

    op.drop_table('kit_flows')
