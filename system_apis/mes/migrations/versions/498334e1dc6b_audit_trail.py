"""audit trail: the kernel's append-only kit_audit table (contracts/kit/audit.py)

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 498334e1dc6b
Revises: a6c82ed16a7c
Create Date: 2026-11-23 16:48:47.757545
"""
from collections.abc import Sequence


revision: str = '498334e1dc6b'
down_revision: str | None = 'a6c82ed16a7c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = 'dd8f7e61310a'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
