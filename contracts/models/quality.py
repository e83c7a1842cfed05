"""Quality process API v1 (`/quality/v1`): starting flows by API, for partners and operators."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from contracts.models import mes, qms
from contracts.models.common import Id, Input, Location, Name, Output, Quantity


class ReceiptInspectionStart(Input, kw_only=True):
    item_id: Id
    lot_id: Id
    quantity: Quantity
    supplier_id: Id | None = None
    receipt_id: Id | None = None


class UsageDecisionStart(Input, kw_only=True):
    """Act on a decision already recorded in QMS (the flow reads nothing else from the caller)."""

    inspection_lot_id: Id
    lot_id: Id
    item_id: Id
    disposition: qms.Disposition
    code: Id
    decided_by: Name
    origin: qms.InspectionOrigin = qms.InspectionOrigin.GOODS_RECEIPT
    supplier_id: Id | None = None


class ProductionInspectionStart(Input, kw_only=True):
    order_id: Id
    item_id: Id
    lot_id: Id
    quantity: Quantity
    location: Location


class NcDispositionStart(Input, kw_only=True):
    nc_id: Id
    lot_id: Id
    disposition: qms.NcDisposition
    quantity: Quantity | None = None


# --- reconciliation ------------------------------------------------------------------------------
class DisagreementKind(StrEnum):
    HOLD_NOT_IN_ERP = "hold-not-in-erp"  # quality holds the lot; ERP has stock of it not BLOCKED
    BLOCK_NOT_IN_QMS = "block-not-in-qms"  # quality freed the lot; ERP holds it BLOCKED unexplained
    MES_STATUS = "mes-status"  # an MES batch of the lot shows another quality status


class DisagreementStatus(StrEnum):
    OPEN = "open"
    REPAIRING = "repairing"  # a repair flow runs (or stalled: see its flow)
    REPAIRED = "repaired"  # the repair flow finished; the next run confirms it
    RESOLVED = "resolved"  # a later run found the systems agreeing


class Disagreement(Output, kw_only=True):
    disagreement_id: str
    lot_id: str
    kind: DisagreementKind
    status: DisagreementStatus
    summary: str
    disposition: str  # what quality last said about the lot (decision, or a later NC disposition)
    inspection_lot_id: str
    nc_ids: list[str]
    observed: dict[str, Any]  # what ERP (balances) and MES (batches) showed when last checked
    found_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    repair_flow_id: str | None
    repairs: int
    repairable: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ReconciliationRun(Output, kw_only=True):
    """What one pass compared and what it did."""

    mode: str  # report (record only) or repair
    checked_at: datetime
    lots_checked: int
    found: list[str]  # disagreement ids open after the pass
    resolved: list[str]
    repairs_started: list[str]  # repair flow ids
    warnings: list[str] = msgspec.field(default_factory=list)


# --- traceability: one call for a recall --------------------------------------------------------------
class TraceDirection(StrEnum):
    BOTH = "both"
    WHERE_USED = "where_used"  # down: the orders that used the lots and what they made, any depth
    WHERE_FROM = "where_from"  # up: the orders that made the lots and what went into them


class LotRelation(StrEnum):
    START = "start"  # a lot asked about (or one received under the supplier lot asked about)
    WHERE_USED = "where_used"
    WHERE_FROM = "where_from"


class StockLine(Output, kw_only=True):
    location: str
    status: str
    quantity: float


class MovedQuantities(Output, kw_only=True):
    """What happened to the lot in ERP, summed over its stock movements (reversals netted out)."""

    received: float  # delivered into stock: purchase or production receipts
    issued: float  # to production or maintenance orders
    scrapped: float
    returned: float  # to the supplier


class InspectionSummary(Output, kw_only=True):
    inspection_lot_id: str
    status: str
    result: str
    disposition: str | None
    decided_at: datetime | None


class NonconformanceSummary(Output, kw_only=True):
    nc_id: str
    title: str
    severity: str
    status: str
    disposition: str | None
    created_at: datetime


class TracedLot(Output, kw_only=True):
    lot_id: str
    item_id: str | None
    relation: LotRelation
    depth: int  # orders between it and the lot asked about (0 for a lot asked about)
    in_erp: bool  # false for a lot ERP does not know (work in progress, another site's)
    supplier_id: str | None
    supplier_lot: str | None
    origin: str | None  # purchase or production
    on_hand: float | None
    stock: list[StockLine]  # per location and status
    quantities: MovedQuantities | None
    inspections: list[InspectionSummary] | None  # None when QMS did not answer
    nonconformances: list[NonconformanceSummary] | None


class TracedOrder(Output, kw_only=True):
    order_id: str
    item_id: str
    status: str
    site: str
    relation: LotRelation
    depth: int
    inputs: list[mes.TracedLot]
    outputs: list[mes.TracedLot]


class UpstreamWarning(Output, kw_only=True):
    source: str
    detail: str


class Traceability(Output, kw_only=True):
    """Where the lots went and where they came from, each with its stock, movements, inspections
    and nonconformances: a recall's list in one answer."""

    supplier_lot: str | None
    lot_id: str | None
    direction: TraceDirection
    max_depth: int
    lots: list[TracedLot]  # the lots asked about first, then nearest first
    orders: list[TracedOrder]
    truncated: bool  # more lots lie within max_depth than max_lots
    warnings: list[UpstreamWarning]
