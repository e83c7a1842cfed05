"""flow leases are fenced (kit_flows.lease_owner, lease_generation); waiting flows name their upstream (waiting_on)

Its kernel tables are the kit's since issue 19 (contracts/kit/migrations/versions): this revision
depends on the kernel revisions that make them.

Revision ID: 8c05677400da
Revises: 3f6d2a9c41b7
Create Date: 2026-12-06 15:40:00
"""
from collections.abc import Sequence


revision: str = '8c05677400da'
down_revision: str | None = '3f6d2a9c41b7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '135a40ce8b78'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
