"""kernel audit trail: the append-only kit_audit table (contracts/kit/audit.py)

Revision ID: dd8f7e61310a
Revises:
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contracts.kit.audit import append_only_ddl, drop_append_only_ddl


revision: str = 'dd8f7e61310a'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('kernel_audit',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kit_audit',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('audit_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('record_type', sa.String(length=100), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('actor_client_id', sa.String(length=200), nullable=False),
    sa.Column('actor_person_id', sa.String(length=200), nullable=True),
    sa.Column('actor_supplier_id', sa.String(length=200), nullable=True),
    sa.Column('correlation_id', sa.String(length=128), nullable=True),
    sa.Column('flow_id', sa.String(length=128), nullable=True),
    sa.Column('causation_id', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('audit_id')
    )
    with op.batch_alter_table('kit_audit', schema=None) as batch_op:
        batch_op.create_index('ix_kit_audit_correlation', ['correlation_id', 'seq'], unique=False)
        batch_op.create_index('ix_kit_audit_flow', ['flow_id', 'seq'], unique=False)
        batch_op.create_index('ix_kit_audit_record', ['record_id', 'seq'], unique=False)

    # Append-only in the database itself: triggers refuse UPDATE and DELETE of audit entries.
    for statement in append_only_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table('kit_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_kit_audit_record')
        batch_op.drop_index('ix_kit_audit_flow')
        batch_op.drop_index('ix_kit_audit_correlation')

    op.drop_table('kit_audit')
