"""What a supplier may see of the platform: one rule for the supplier portal and for partner
webhooks, so a supplier learns of a record by one channel exactly when it may see it by the other.

A supplier sees inspection lots of its own lots, and its own supplier quality cases once quality
has issued them (an `open` case not yet issued is an internal draft).
"""

from __future__ import annotations

CASE_DRAFT = "open"


def sees_case(supplier_id: str, case_supplier_id: str | None, status: str, issued: bool) -> bool:
    return case_supplier_id == supplier_id and (issued or status != CASE_DRAFT)


def sees_inspection(supplier_id: str, lot_supplier_id: str | None) -> bool:
    return lot_supplier_id == supplier_id
