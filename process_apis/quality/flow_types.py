"""Every flow this service runs (the runner, the flow API and the starts share this list)."""

from __future__ import annotations

from process_apis.quality.flows import (
    NC_DISPOSITION,
    PROCUREMENT_NOTICE,
    PRODUCTION_INSPECTION,
    RECEIPT_INSPECTION,
    USAGE_DECISION,
)
from process_apis.quality.notifications import DEFECT_THRESHOLD
from process_apis.quality.reconciliation import REPAIR_LOT
from process_apis.quality.shopfloor import MATERIAL_CONSUMPTION

FLOW_TYPES = (
    RECEIPT_INSPECTION,
    USAGE_DECISION,
    PRODUCTION_INSPECTION,
    NC_DISPOSITION,
    MATERIAL_CONSUMPTION,
    PROCUREMENT_NOTICE,
    DEFECT_THRESHOLD,
    REPAIR_LOT,
)
