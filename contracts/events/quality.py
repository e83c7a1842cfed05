"""Events the quality process API publishes on `events.quality`."""

from __future__ import annotations

import msgspec

from contracts.kit.envelope import event

STREAM = "events.quality"


@event(
    "quality.procurement_notice.v1",
    STREAM,
    "Purchased material was blocked or returned after inspection; procurement should act with the supplier.",
)
class ProcurementNotice(msgspec.Struct, kw_only=True):
    supplier_id: str
    lot_id: str
    item_id: str
    disposition: str
    inspection_lot_id: str
    nc_id: str | None = None
    supplier_case_id: str | None = None
    po_id: str | None = None
    quantity: float | None = None
