"""Supplier portal API v1 (`/supplier/v1`): what one supplier may see of its own records."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import msgspec

from contracts.models.common import Output
from contracts.models.qms import SupplierResponseCreate


class UpstreamWarning(Output, kw_only=True):
    source: str
    detail: str


class Verdict(Output, kw_only=True):
    number: int
    containment: str
    root_cause: str
    corrective_action: str
    responded_by: str | None
    responded_at: datetime
    verdict: str | None  # accepted, rejected, or null while under review
    verdict_reason: str | None
    verdict_at: datetime | None
    team: str | None = None  # D1
    problem_description: str | None = None  # D2
    implementation: str | None = None  # D6
    preventive_action: str | None = None  # D7
    closure: str | None = None  # D8
    attachments: list[str] = msgspec.field(default_factory=list)  # document ids


class CaseNonconformance(Output, kw_only=True):
    nc_id: str
    title: str
    severity: str
    status: str
    description: str | None
    defect_codes: list[str]
    item_id: str | None
    lot_id: str | None
    quantity_affected: float | None
    unit: str | None
    created_at: datetime


class Case(Output, kw_only=True):
    case_id: str
    title: str
    status: str
    description: str | None
    nc_ids: list[str]
    lot_ids: list[str]
    po_id: str | None
    due_date: date | None
    issued_at: datetime | None
    closed_at: datetime | None
    awaiting_response: bool  # true when the case is issued to the supplier
    responses: list[Verdict]
    version: int
    created_at: datetime
    updated_at: datetime


class CaseDetail(Case, kw_only=True):
    nonconformances: list[CaseNonconformance]
    warnings: list[UpstreamWarning]


class CasePage(Output, kw_only=True):
    items: list[Case]
    next_cursor: str | None


class CaseResponse(SupplierResponseCreate, kw_only=True):
    """Your answer as an 8D report: D3, D4 and D5 are required, the other disciplines as far as
    known; attach documents uploaded to /supplier/v1/documents by their ids."""


class CharacteristicResult(Output, kw_only=True):
    code: str
    description: str | None
    evaluation: str | None  # pass, fail, or null while not measured
    value: float | None
    unit: str | None


class LotInspection(Output, kw_only=True):
    inspection_lot_id: str
    lot_id: str
    item_id: str
    status: str
    result: str
    failed_characteristics: list[str]
    characteristics: list[CharacteristicResult]
    disposition: str | None  # the usage decision, once made
    decided_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class InspectionPage(Output, kw_only=True):
    items: list[LotInspection]
    next_cursor: str | None


class ScorecardFigures(Output, kw_only=True):
    """Figures of one stretch of time, from history only: a receipt's quantity as received, a
    rejection's quantity as the decision moved it. Returns, issues and scrapping afterwards change
    none of them."""

    lots_received: int
    received_quantity: float
    lots_rejected: int
    rejected_quantity: float
    reject_rate_ppm: int | None  # rejected / received quantity x 1e6; null without receipts
    responded_cases: int
    average_response_days: float | None  # issue → first response
    on_time_response_rate: float | None  # share of cases due in the stretch answered by their due date


class ScorecardPeriod(ScorecardFigures, kw_only=True):
    period: str  # 2026-03, 2026-Q1 or 2026
    start: date
    end: date  # the last day of the period


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Scorecard(Output, kw_only=True):
    """The totals over the window asked for (all history by default), and per period when asked.
    Lots count in the period of their receipt, with their rejection; cases in the period of their
    due date (on time) or their first answer (response days)."""

    supplier_id: str
    lots_received: int
    received_quantity: float
    lots_rejected: int
    rejected_quantity: float
    reject_rate_ppm: int | None  # rejected / received quantity x 1e6; null before any receipt
    open_cases: int
    responded_cases: int
    average_response_days: float | None  # issue → first response
    on_time_response_rate: float | None  # share of answered cases with a due date answered by it
    warnings: list[UpstreamWarning]
    since: date | None = None
    until: date | None = None
    periods: list[ScorecardPeriod] = msgspec.field(default_factory=list)
