"""kernel tables only

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 0dd5a449e3c8
Revises: 
Create Date: 2026-11-23 15:22:00.599097
"""
from collections.abc import Sequence


revision: str = '0dd5a449e3c8'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '196dea7e8360'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
