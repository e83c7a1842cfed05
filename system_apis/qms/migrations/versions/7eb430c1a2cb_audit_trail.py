"""audit trail: the kernel's append-only kit_audit table (contracts/kit/audit.py)

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 7eb430c1a2cb
Revises: 2eb93912d488
Create Date: 2026-11-23 16:48:47.066622
"""
from collections.abc import Sequence


revision: str = '7eb430c1a2cb'
down_revision: str | None = '2eb93912d488'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = 'dd8f7e61310a'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
