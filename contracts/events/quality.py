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


class _Approval(msgspec.Struct, kw_only=True):
    approval_id: str
    flow_id: str
    flow_type: str
    subject: str
    status: str
    requested_by: str
    escalate_to: str | None = None
    decided_by: str | None = None
    comment: str | None = None


@event(
    "quality.approval.requested.v1",
    STREAM,
    "A quality flow waits for a second person's approval (e.g. releasing a production batch).",
)
class ApprovalRequested(_Approval, kw_only=True):
    pass


@event(
    "quality.approval.escalated.v1",
    STREAM,
    "An approval has waited longer than the plant allows; `escalate_to` names who should act.",
)
class ApprovalEscalated(_Approval, kw_only=True):
    pass


@event("quality.approval.decided.v1", STREAM, "An approval was given or refused (`status`), by whom and why.")
class ApprovalDecided(_Approval, kw_only=True):
    pass
