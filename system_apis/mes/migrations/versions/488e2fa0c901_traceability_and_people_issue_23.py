"""traceability_and_people: issue 23

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 488e2fa0c901
Revises: a4e6b422a1db
Create Date: 2026-12-06 17:10:06.083563
"""
from collections.abc import Sequence


revision: str = '488e2fa0c901'
down_revision: str | None = 'a4e6b422a1db'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '89a48f3287f5'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
