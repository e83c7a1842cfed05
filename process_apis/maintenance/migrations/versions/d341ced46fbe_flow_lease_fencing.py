"""flow leases are fenced (kit_flows.lease_owner, lease_generation); waiting flows name their upstream (waiting_on)

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: d341ced46fbe
Revises: 8b1e5c7d2f40
Create Date: 2026-12-06 15:40:00
"""
from collections.abc import Sequence


revision: str = 'd341ced46fbe'
down_revision: str | None = '8b1e5c7d2f40'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '135a40ce8b78'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
