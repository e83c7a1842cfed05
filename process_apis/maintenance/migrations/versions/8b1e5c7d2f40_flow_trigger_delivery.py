"""stalled flows go to the dead letters: kit_flows.trigger_delivery keeps the starting message

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 8b1e5c7d2f40
Revises: 266955429834
Create Date: 2026-11-23 20:45:00
"""
from collections.abc import Sequence


revision: str = '8b1e5c7d2f40'
down_revision: str | None = '266955429834'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = 'b4585fa04fd2'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
