"""Quality process API v1 (`/quality/v1`): starting flows by API, for partners and operators."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from contracts.models import qms
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
