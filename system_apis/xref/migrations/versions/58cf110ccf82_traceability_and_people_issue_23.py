"""traceability_and_people: issue 23

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 58cf110ccf82
Revises: 68104ec150f2
Create Date: 2026-12-06 17:10:06.464665
"""
from collections.abc import Sequence


revision: str = '58cf110ccf82'
down_revision: str | None = '68104ec150f2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '89a48f3287f5'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
