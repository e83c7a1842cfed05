"""Events the QMS system API publishes on `events.qms`.

Payloads carry what a consumer needs to act without calling back (lot, item, supplier, the
disposition); new fields get defaults so older consumers keep decoding them.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from contracts.kit.envelope import event

STREAM = "events.qms"


class MeasuredResult(msgspec.Struct, kw_only=True):
    characteristic: str
    evaluation: str
    value: float | None = None
    unit: str | None = None
    uncertainty: float | None = None
    conforming: bool | None = None


@event("qms.inspection_lot.created.v1", STREAM, "An inspection lot was created for a lot of an item.")
class InspectionLotCreated(msgspec.Struct, kw_only=True):
    inspection_lot_id: str
    origin: str
    item_id: str
    lot_id: str
    sample_size: int
    characteristics: list[str]
    source_ref: str | None = None
    supplier_id: str | None = None
    due_date: date | None = None


@event(
    "qms.inspection_lot.status_changed.v1",
    STREAM,
    "An inspection lot was started, had its stock posted, was closed or cancelled.",
)
class InspectionLotStatusChanged(msgspec.Struct, kw_only=True):
    inspection_lot_id: str
    from_status: str
    to_status: str
    action: str
    item_id: str
    lot_id: str
    supplier_id: str | None = None
    source_ref: str | None = None
    reason: str | None = None
    by: str | None = None
    stock_txn_ids: list[str] = msgspec.field(default_factory=list)  # the ERP postings, once stock moved


@event(
    "qms.inspection.results_recorded.v1",
    STREAM,
    "Results were recorded on an inspection lot; `complete` tells whether every characteristic has one.",
)
class ResultsRecorded(msgspec.Struct, kw_only=True):
    inspection_lot_id: str
    item_id: str
    lot_id: str
    status: str
    result: str
    complete: bool
    failed_characteristics: list[str]
    results: list[MeasuredResult]
    supplier_id: str | None = None
    recorded_by: str | None = None


@event(
    "qms.usage_decision.made.v1",
    STREAM,
    "A usage decision was made or changed on an inspection lot; the disposition says what stock must do.",
)
class UsageDecisionMade(msgspec.Struct, kw_only=True):
    inspection_lot_id: str
    lot_id: str
    item_id: str
    origin: str
    code: str
    disposition: str
    result: str
    failed_characteristics: list[str]
    decided_by: str
    decided_at: datetime
    revision: int
    supplier_id: str | None = None
    source_ref: str | None = None
    previous_disposition: str | None = None
    # Who decided, as verified from the request's token (`person:<id>` or `client:<id>`, see
    # contracts/kit/acting.py), where `decided_by` is what the request said.
    decided_by_key: str | None = None


class NcLinks(msgspec.Struct, kw_only=True):
    item_id: str | None = None
    lot_id: str | None = None
    supplier_id: str | None = None
    equipment_id: str | None = None
    production_order_id: str | None = None
    inspection_lot_id: str | None = None


@event("qms.nonconformance.opened.v1", STREAM, "A nonconformance was reported.")
class NonconformanceOpened(msgspec.Struct, kw_only=True):
    nc_id: str
    title: str
    severity: str
    status: str
    defect_codes: list[str]
    links: NcLinks
    quantity_affected: float | None = None
    unit: str | None = None
    disposition: str | None = None


@event("qms.nonconformance.status_changed.v1", STREAM, "A nonconformance moved to another state.")
class NonconformanceStatusChanged(msgspec.Struct, kw_only=True):
    nc_id: str
    from_status: str
    to_status: str
    action: str
    severity: str
    links: NcLinks
    disposition: str | None = None
    reason: str | None = None
    by: str | None = None


@event(
    "qms.nonconformance.updated.v1",
    STREAM,
    "Fields of a nonconformance changed (disposition, severity, codes, links); `changed` names them.",
)
class NonconformanceUpdated(msgspec.Struct, kw_only=True):
    nc_id: str
    status: str
    severity: str
    changed: list[str]
    links: NcLinks
    defect_codes: list[str]
    root_cause_codes: list[str]
    disposition: str | None = None


@event("qms.supplier_case.opened.v1", STREAM, "A supplier quality case (SCAR) was opened.")
class SupplierCaseOpened(msgspec.Struct, kw_only=True):
    case_id: str
    supplier_id: str
    title: str
    status: str
    nc_ids: list[str]
    lot_ids: list[str]
    due_date: date | None = None


@event(
    "qms.supplier_case.status_changed.v1",
    STREAM,
    "A supplier quality case was issued, answered, accepted, rejected, closed or cancelled.",
)
class SupplierCaseStatusChanged(msgspec.Struct, kw_only=True):
    case_id: str
    supplier_id: str
    from_status: str
    to_status: str
    action: str
    nc_ids: list[str]
    lot_ids: list[str]
    due_date: date | None = None
    reason: str | None = None
    by: str | None = None


@event("qms.capa.opened.v1", STREAM, "A corrective or preventive action (CAPA) was created, as a draft.")
class CapaOpened(msgspec.Struct, kw_only=True):
    capa_id: str
    kind: str
    title: str
    status: str
    owner: str
    nc_ids: list[str]
    due_date: date | None = None


@event("qms.capa.status_changed.v1", STREAM, "A CAPA moved to another state.")
class CapaStatusChanged(msgspec.Struct, kw_only=True):
    capa_id: str
    kind: str
    from_status: str
    to_status: str
    action: str
    nc_ids: list[str]
    reason: str | None = None
    by: str | None = None


@event(
    "qms.capa.updated.v1",
    STREAM,
    "Fields of a CAPA changed (actions, cause or correction codes); `changed` names them.",
)
class CapaUpdated(msgspec.Struct, kw_only=True):
    capa_id: str
    status: str
    changed: list[str]
    nc_ids: list[str]
    cause_codes: list[str]
    correction_codes: list[str]
