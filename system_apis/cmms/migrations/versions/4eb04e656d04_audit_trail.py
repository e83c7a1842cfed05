"""audit trail: the kernel's append-only kit_audit table (contracts/kit/audit.py)

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 4eb04e656d04
Revises: b6907b898901
Create Date: 2026-11-23 16:48:47.409548
"""
from collections.abc import Sequence


revision: str = '4eb04e656d04'
down_revision: str | None = 'b6907b898901'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = 'dd8f7e61310a'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
