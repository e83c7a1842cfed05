"""audit trail: the kernel's append-only kit_audit table (contracts/kit/audit.py)

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 68104ec150f2
Revises: b647befe5bf7
Create Date: 2026-11-23 16:48:47.919140
"""
from collections.abc import Sequence


revision: str = '68104ec150f2'
down_revision: str | None = 'b647befe5bf7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = 'dd8f7e61310a'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
