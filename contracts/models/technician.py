"""Technician experience API v1 (`/technician/v1`): compact shapes for a mobile client."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from contracts.models.cmms import Code, Hours, Minutes, Rate
from contracts.models.common import Currency, Id, Input, Location, Name, Output, Quantity, Text, Uom


class UpstreamWarning(Output, kw_only=True):
    """Part of the answer could not be fetched; the rest is still right."""

    source: str  # the upstream, e.g. "erp"
    detail: str


class AssetSummary(Output, kw_only=True):
    asset_id: str
    tag: str
    description: str
    location: str | None
    criticality: str
    status: str


class HistoryEntry(Output, kw_only=True):
    """An earlier work order on the same asset."""

    wo_id: str
    type: str
    description: str
    status: str
    cause_code: str | None
    correction_code: str | None
    actual_end: datetime | None
    updated_at: datetime


class NonconformanceSummary(Output, kw_only=True):
    nc_id: str
    title: str
    severity: str
    status: str
    description: str | None
    defect_codes: list[str]


class PartAvailability(Output, kw_only=True):
    item_id: str
    quantity: float  # on the work order
    uom: str
    unrestricted: float  # in stock and free to issue, over all lots
    available: bool


class PlannedPart(Output, kw_only=True):
    """A part the job is planned to take, with ERP's stock: what to fetch before starting."""

    item_id: str
    quantity: float  # planned for the work order
    uom: str
    unrestricted: float | None  # in stock and free to issue, over all lots; None when ERP did not answer
    available: bool | None  # enough unrestricted stock for the planned quantity; None when unknown


class PartLine(Output, kw_only=True):
    item_id: str
    quantity: float
    uom: str
    warehouse: str
    lot_id: str | None


class LaborLine(Output, kw_only=True):
    person_id: str
    hours: float
    work_date: date | None


class WorkItem(Output, kw_only=True):
    """One work order with what a technician needs at the machine."""

    wo_id: str
    status: str
    type: str
    priority: str
    description: str
    site: str
    asset_id: str
    hold_reason: str | None
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    cause_code: str | None
    correction_code: str | None
    nonconformance_id: str | None
    parts_used: list[PartLine]
    labor: list[LaborLine]
    allowed_actions: list[str]
    version: int
    updated_at: datetime
    asset: AssetSummary | None
    history: list[HistoryEntry]
    nonconformance: NonconformanceSummary | None
    parts: list[PartAvailability]
    warnings: list[UpstreamWarning]
    # The parts planned for the job (by the planner, or the asset's spare-parts list), with stock.
    planned_parts: list[PlannedPart] = msgspec.field(default_factory=list)
    planned_parts_from: str | None = None  # planner | asset


class MyWork(Output, kw_only=True):
    """A page of the caller's work; pass `next_cursor` back as `cursor`, and keep the last
    `updated_at` seen for the next `updated_since` delta sync."""

    items: list[WorkItem]
    next_cursor: str | None
    warnings: list[UpstreamWarning]


class Pause(Input, kw_only=True):
    reason: Name


class PartUsed(Input, kw_only=True):
    item_id: Id
    quantity: Quantity
    warehouse: Id
    uom: Uom = "EA"
    lot_id: Id | None = None
    location: Location | None = None


class LaborUsed(Input, kw_only=True):
    """Hours of the caller (the token's person)."""

    hours: Hours
    rate: Rate
    currency: Currency = "EUR"
    work_date: date | None = None


class Completion(Input, kw_only=True):
    """Everything a technician reports at the end, sent once (safe to resend with the same key)."""

    parts: Annotated[list[PartUsed], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    labor: Annotated[list[LaborUsed], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)
    cause_code: Code | None = None
    correction_code: Code | None = None
    downtime_minutes: Minutes | None = None
    actual_end: datetime | None = None
    failure_time: datetime | None = None
    note: Text | None = None
