"""audit trail: the kernel's append-only kit_audit table (contracts/kit/audit.py)

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 9d117427390a
Revises: cc9020ff4feb
Create Date: 2026-11-23 16:48:46.630152
"""
from collections.abc import Sequence


revision: str = '9d117427390a'
down_revision: str | None = 'cc9020ff4feb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = 'dd8f7e61310a'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
