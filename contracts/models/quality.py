"""Quality process API v1 (`/quality/v1`): starting flows by API, for partners and operators."""

from __future__ import annotations

from contracts.models import qms
from contracts.models.common import Id, Input, Location, Name, Quantity


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
