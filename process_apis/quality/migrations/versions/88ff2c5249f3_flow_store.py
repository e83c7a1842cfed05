"""flow store

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 88ff2c5249f3
Revises: 
Create Date: 2026-11-23 15:01:31.443109
"""
from collections.abc import Sequence


revision: str = '88ff2c5249f3'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ('196dea7e8360', 'b239edc008ca')


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
