"""traceability_and_people: issue 23

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 82ea51c2c45f
Revises: 8c05677400da
Create Date: 2026-12-06 17:34:55.624749
"""
from collections.abc import Sequence


revision: str = '82ea51c2c45f'
down_revision: str | None = '8c05677400da'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ('89a48f3287f5', '12a266bc4759')


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
