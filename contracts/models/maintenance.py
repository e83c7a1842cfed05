"""Maintenance process API v1 (`/maintenance/v1`): starting flows by API, for partners and operators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from contracts.models.common import Id, Input, Name

Instant = Annotated[datetime, msgspec.Meta(tz=True)]


class NcMaintenanceStart(Input, kw_only=True):
    """Nonconformances recorded in QMS on one machine; the flow reads them from QMS."""

    nc_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=50)]
    equipment_id: Id | None = None  # default: the equipment the nonconformances name


class WorkOrderCompletionStart(Input, kw_only=True):
    """A technically complete work order in CMMS; the flow reads its parts, labor and codes."""

    wo_id: Id


class BreakdownStart(Input, kw_only=True):
    """A machine stop, named by the shop floor's equipment id or by the CMMS asset id (one of them)."""

    reason: Name
    equipment_id: Id | None = None
    asset_id: Id | None = None
    failure_time: Instant | None = None
    order_id: Id | None = None


class SparesReplenishmentStart(Input, kw_only=True):
    item_id: Id
    source_ref: Id | None = None
