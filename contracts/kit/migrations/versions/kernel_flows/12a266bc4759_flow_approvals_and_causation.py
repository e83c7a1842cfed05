"""kernel flow store: approval steps, and the event that caused a flow

Revision ID: 12a266bc4759
Revises: 135a40ce8b78
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '12a266bc4759'
down_revision: str | None = '135a40ce8b78'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kit_flow_approvals',
    sa.Column('flow_id', sa.String(length=64), nullable=False),
    sa.Column('flow_type', sa.String(length=100), nullable=False),
    sa.Column('step', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requester_keys', sa.JSON(), nullable=False),
    sa.Column('escalate_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalate_to', sa.String(length=200), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=400), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_id'], ['kit_flows.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('flow_id', 'step', name='uq_kit_flow_approvals_step')
    )
    with op.batch_alter_table('kit_flow_approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kit_flow_approvals_escalate_at'), ['escalate_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kit_flow_approvals_flow_id'), ['flow_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kit_flow_approvals_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_kit_flow_approvals_updated_at'), ['updated_at'], unique=False)

    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('causation_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('causation_type', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kit_flows', schema=None) as batch_op:
        batch_op.drop_column('causation_type')
        batch_op.drop_column('causation_id')

    with op.batch_alter_table('kit_flow_approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kit_flow_approvals_updated_at'))
        batch_op.drop_index(batch_op.f('ix_kit_flow_approvals_status'))
        batch_op.drop_index(batch_op.f('ix_kit_flow_approvals_flow_id'))
        batch_op.drop_index(batch_op.f('ix_kit_flow_approvals_escalate_at'))

    op.drop_table('kit_flow_approvals')
