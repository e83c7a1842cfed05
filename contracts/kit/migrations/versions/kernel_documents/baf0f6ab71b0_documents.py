"""kernel documents: what a service keeps of each stored document (contracts/kit/documents.py)

Revision ID: baf0f6ab71b0
Revises:
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'baf0f6ab71b0'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('kernel_documents',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kit_documents',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.String(length=400), nullable=False),
    sa.Column('uploader', sa.String(length=250), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kit_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kit_documents_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_kit_documents_updated_at'), ['updated_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kit_documents_uploader'), ['uploader'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kit_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kit_documents_uploader'))
        batch_op.drop_index(batch_op.f('ix_kit_documents_updated_at'))
        batch_op.drop_index(batch_op.f('ix_kit_documents_sha256'))

    op.drop_table('kit_documents')
