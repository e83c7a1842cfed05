"""traceability_and_people: issue 23

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 68b3c72a3d36
Revises: d341ced46fbe
Create Date: 2026-12-06 17:34:44.754737
"""
from collections.abc import Sequence


revision: str = '68b3c72a3d36'
down_revision: str | None = 'd341ced46fbe'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '12a266bc4759'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
