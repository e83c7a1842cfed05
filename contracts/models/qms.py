"""QMS system API v1 (`/qms/v1`): the shapes on the wire.

Measurements are value + unit (+ optional uncertainty) so a later v2 of inspection results can
serve structured measurements over the same stored data.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from contracts.kit.patterns import whole
from contracts.models.common import Id, Input, Name, NonNegative, Output, Text, Uom

# A measured value or a limit: finite and bounded, so no infinity ever reaches a comparison.
Measure = Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)]
Uncertainty = Annotated[float, msgspec.Meta(ge=0, le=1e12)]
# No NUL characters, as for `Text`: PostgreSQL cannot store them.
Note = Annotated[str, msgspec.Meta(min_length=1, max_length=4000, pattern=whole(r"[^\x00]*"))]
Codes = Annotated[list[Id], msgspec.Meta(max_length=50)]
SampleSize = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
NextActions = Annotated[
    list[str],
    msgspec.Meta(
        description="State-machine actions allowed from the current state. Each is a POST on the record: "
        "/<action> with '-' for '_', except decide (/usage-decision), record_results (/results), "
        "post_stock (/stock-posted) and respond (/response)."
    ),
]


# --- enumerations ----------------------------------------------------------------------------
class InspectionOrigin(StrEnum):
    GOODS_RECEIPT = "goods_receipt"
    PRODUCTION = "production"
    RECURRING = "recurring"


class InspectionLotStatus(StrEnum):
    CREATED = "created"
    IN_INSPECTION = "in_inspection"
    RESULTS_RECORDED = "results_recorded"
    DECIDED = "decided"
    STOCK_POSTED = "stock_posted"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CharacteristicKind(StrEnum):
    NUMERIC = "numeric"  # a measured value checked against min/max in a unit
    ATTRIBUTE = "attribute"  # pass/fail by inspection


class Evaluation(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class LotResult(StrEnum):
    PENDING = "pending"  # some characteristics have no result yet and none failed
    PASS = "pass"
    FAIL = "fail"


class Disposition(StrEnum):
    """What a usage decision does with the lot's stock."""

    RELEASE = "release"
    BLOCK = "block"
    SCRAP = "scrap"
    RETURN = "return"
    REWORK = "rework"
    USE_AS_IS = "use_as_is"


class NcDisposition(StrEnum):
    SCRAP = "scrap"
    REWORK = "rework"
    RETURN = "return"
    USE_AS_IS = "use_as_is"


class Severity(StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class NcStatus(StrEnum):
    OPEN = "open"
    UNDER_ANALYSIS = "under_analysis"
    ACTION_PLANNED = "action_planned"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class SupplierCaseStatus(StrEnum):
    OPEN = "open"
    ISSUED = "issued"
    RESPONSE_RECEIVED = "response_received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CapaKind(StrEnum):
    CORRECTIVE = "corrective"
    PREVENTIVE = "preventive"


class CapaStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    IMPLEMENTED = "implemented"
    VERIFIED = "verified"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# --- shared bodies -----------------------------------------------------------------------------
class TransitionNote(Input, kw_only=True):
    """Body of a state change that needs nothing else: who did it and why."""

    by: Name | None = None
    note: Text | None = None


class Reason(Input, kw_only=True):
    """Body of a state change that must say why (cancel, reopen, reject)."""

    reason: Note
    by: Name | None = None


# --- inspection lots ----------------------------------------------------------------------------
class CharacteristicCreate(Input, kw_only=True):
    """numeric: a unit and at least one of min_value/max_value; attribute: none of them."""

    code: Id
    kind: CharacteristicKind
    description: Name | None = None
    min_value: Measure | None = None
    max_value: Measure | None = None
    unit: Uom | None = None


class InspectionLotCreate(Input, kw_only=True):
    origin: InspectionOrigin
    item_id: Id
    lot_id: Id
    sample_size: SampleSize
    characteristics: Annotated[list[CharacteristicCreate], msgspec.Meta(min_length=1, max_length=100)]
    source_ref: Id | None = None  # e.g. the ERP goods receipt or the production order
    supplier_id: Id | None = None
    due_date: date | None = None


class ResultEntry(Input, kw_only=True):
    """numeric characteristics take value (+ unit, uncertainty); attribute ones take conforming."""

    characteristic: Id
    value: Measure | None = None
    unit: Uom | None = None  # defaults to the characteristic's unit; another unit is refused
    uncertainty: Uncertainty | None = None
    conforming: bool | None = None
    note: Text | None = None


class ResultsRecord(Input, kw_only=True):
    results: Annotated[list[ResultEntry], msgspec.Meta(min_length=1, max_length=100)]
    recorded_by: Name | None = None


class UsageDecisionCreate(Input, kw_only=True):
    code: Id
    disposition: Disposition
    decided_by: Name
    note: Text | None = None


class StockPosted(Input, kw_only=True):
    """The ERP inventory transactions that carried out the decision, and the quantity they moved."""

    txn_ids: Codes = msgspec.field(default_factory=list)
    posted_by: Name | None = None
    quantity: NonNegative | None = None


class CharacteristicResult(Output, kw_only=True):
    value: float | None
    unit: str | None
    uncertainty: float | None
    conforming: bool | None
    evaluation: Evaluation
    note: str | None
    recorded_by: str | None
    recorded_at: datetime


class Characteristic(Output, kw_only=True):
    code: str
    kind: CharacteristicKind
    description: str | None
    min_value: float | None
    max_value: float | None
    unit: str | None
    result: CharacteristicResult | None


class UsageDecision(Output, kw_only=True):
    revision: int  # 1 for the first decision; a change adds a revision, the old ones stay
    code: str
    disposition: Disposition
    lot_result: LotResult
    decided_by: str
    decided_at: datetime
    note: str | None


class InspectionLot(Output, kw_only=True):
    inspection_lot_id: str
    origin: InspectionOrigin
    source_ref: str | None
    item_id: str
    lot_id: str
    supplier_id: str | None
    sample_size: int
    due_date: date | None
    status: InspectionLotStatus
    result: LotResult
    failed_characteristics: list[str]
    characteristics: list[Characteristic]
    usage_decision: UsageDecision | None
    decisions: list[UsageDecision]
    stock_txn_ids: list[str]
    stock_posted_at: datetime | None
    closed_at: datetime | None
    cancel_reason: str | None
    allowed_actions: NextActions
    version: int
    created_at: datetime
    updated_at: datetime
    # What the decision moved in ERP (the quantity under inspection when it was decided): the
    # lot's accepted or rejected quantity as of the decision, whatever happens to the stock later.
    stock_posted_quantity: float | None = None


# --- defect codes ---------------------------------------------------------------------------------
class DefectCodeCreate(Input, kw_only=True):
    code: Id
    description: Name
    category: Name | None = None
    default_severity: Severity | None = None


class DefectCode(Output, kw_only=True):
    code: str
    description: str
    category: str | None
    default_severity: Severity | None
    version: int
    created_at: datetime
    updated_at: datetime


# --- nonconformances -----------------------------------------------------------------------------
class NonconformanceCreate(Input, kw_only=True):
    title: Name
    severity: Severity
    description: Text | None = None
    defect_codes: Codes = msgspec.field(default_factory=list)
    root_cause_codes: Codes = msgspec.field(default_factory=list)
    quantity_affected: NonNegative | None = None
    unit: Uom | None = None
    disposition: NcDisposition | None = None
    action_plan: Note | None = None
    item_id: Id | None = None
    lot_id: Id | None = None
    supplier_id: Id | None = None
    equipment_id: Id | None = None
    production_order_id: Id | None = None
    inspection_lot_id: Id | None = None
    reported_by: Name | None = None


class NonconformanceUpdate(Input, kw_only=True):
    """Absent or null fields stay as they are."""

    title: Name | None = None
    severity: Severity | None = None
    description: Text | None = None
    defect_codes: Codes | None = None
    root_cause_codes: Codes | None = None
    quantity_affected: NonNegative | None = None
    unit: Uom | None = None
    disposition: NcDisposition | None = None
    action_plan: Note | None = None
    effectiveness_note: Note | None = None
    item_id: Id | None = None
    lot_id: Id | None = None
    supplier_id: Id | None = None
    equipment_id: Id | None = None
    production_order_id: Id | None = None


class ActionPlan(Input, kw_only=True):
    action_plan: Note | None = None  # may be set before, on create or by PATCH
    by: Name | None = None


class Effectiveness(Input, kw_only=True):
    effectiveness_note: Note | None = None  # may be set before by PATCH
    by: Name | None = None


class Nonconformance(Output, kw_only=True):
    nc_id: str
    title: str
    status: NcStatus
    severity: Severity
    description: str | None
    defect_codes: list[str]
    root_cause_codes: list[str]
    quantity_affected: float | None
    unit: str | None
    disposition: NcDisposition | None
    action_plan: str | None
    effectiveness_note: str | None
    item_id: str | None
    lot_id: str | None
    supplier_id: str | None
    equipment_id: str | None
    production_order_id: str | None
    inspection_lot_id: str | None
    reported_by: str | None
    closed_at: datetime | None
    cancel_reason: str | None
    reopen_count: int
    allowed_actions: NextActions
    version: int
    created_at: datetime
    updated_at: datetime


# --- supplier quality cases (SCAR) ------------------------------------------------------------------
class SupplierCaseCreate(Input, kw_only=True):
    supplier_id: Id
    title: Name
    description: Text | None = None
    nc_ids: Codes = msgspec.field(default_factory=list)
    lot_ids: Codes = msgspec.field(default_factory=list)
    po_id: Id | None = None
    due_date: date | None = None
    opened_by: Name | None = None


class SupplierCaseUpdate(Input, kw_only=True):
    title: Name | None = None
    description: Text | None = None
    nc_ids: Codes | None = None
    lot_ids: Codes | None = None
    po_id: Id | None = None
    due_date: date | None = None


# Documents uploaded to /qms/v2/documents, by id. (No description in this Meta: with one, the
# generated schema loses the items' own constraints.)
Attachments = Annotated[list[Id], msgspec.Meta(max_length=20)]


class SupplierResponseCreate(Input, kw_only=True):
    """The supplier's answer as an 8D report. Required: D3 `containment` (interim containment
    actions), D4 `root_cause` (and why it escaped), D5 `corrective_action` (the permanent actions
    chosen). As far as known: D1 `team`, D2 `problem_description`, D6 `implementation` (actions
    implemented and validated), D7 `preventive_action` (recurrence prevented), D8 `closure` (the
    team recognised). `attachments` names documents uploaded to /qms/v2/documents."""

    containment: Annotated[Note, msgspec.Meta(description="D3: interim containment actions")]
    root_cause: Annotated[Note, msgspec.Meta(description="D4: root cause (and why it escaped)")]
    corrective_action: Annotated[Note, msgspec.Meta(description="D5: permanent corrective actions chosen")]
    responded_by: Name | None = None
    # (Optional fields carry no description of their own: with one, the generated schema loses the
    # text's length limits.)
    team: Note | None = None  # D1
    problem_description: Note | None = None  # D2
    implementation: Note | None = None  # D6
    preventive_action: Note | None = None  # D7
    closure: Note | None = None  # D8
    attachments: Attachments = msgspec.field(default_factory=list)


class Acceptance(Input, kw_only=True):
    reason: Text | None = None
    by: Name | None = None


class SupplierResponse(Output, kw_only=True):
    number: int
    containment: str  # D3
    root_cause: str  # D4
    corrective_action: str  # D5
    responded_by: str | None
    responded_at: datetime
    verdict: Verdict | None = None
    verdict_reason: str | None = None
    verdict_by: str | None = None
    verdict_at: datetime | None = None
    team: str | None = None  # D1
    problem_description: str | None = None  # D2
    implementation: str | None = None  # D6
    preventive_action: str | None = None  # D7
    closure: str | None = None  # D8
    attachments: list[str] = msgspec.field(default_factory=list)  # document ids


class SupplierCase(Output, kw_only=True):
    case_id: str
    supplier_id: str
    title: str
    status: SupplierCaseStatus
    description: str | None
    nc_ids: list[str]
    lot_ids: list[str]
    po_id: str | None
    due_date: date | None
    opened_by: str | None
    responses: list[SupplierResponse]
    issued_at: datetime | None
    closed_at: datetime | None
    cancel_reason: str | None
    allowed_actions: NextActions
    version: int
    created_at: datetime
    updated_at: datetime


# --- CAPA --------------------------------------------------------------------------------------------
class CapaActionInput(Input, kw_only=True):
    description: Name
    owner: Name | None = None
    due_date: date | None = None
    done: bool = False


Actions = Annotated[list[CapaActionInput], msgspec.Meta(max_length=100)]


class CapaCreate(Input, kw_only=True):
    kind: CapaKind
    title: Name
    owner: Name
    description: Text | None = None
    nc_ids: Codes = msgspec.field(default_factory=list)
    due_date: date | None = None
    actions: Actions = msgspec.field(default_factory=list)
    cause_codes: Codes = msgspec.field(default_factory=list)
    correction_codes: Codes = msgspec.field(default_factory=list)


class CapaUpdate(Input, kw_only=True):
    """Absent or null fields stay as they are; `actions` replaces the whole list."""

    title: Name | None = None
    owner: Name | None = None
    description: Text | None = None
    nc_ids: Codes | None = None
    due_date: date | None = None
    actions: Actions | None = None
    cause_codes: Codes | None = None
    correction_codes: Codes | None = None


class EffectivenessCheckInput(Input, kw_only=True):
    """What an effectiveness check found; /verify records it as effective, /reopen as not."""

    note: Note
    by: Name | None = None


class CapaAction(Output, kw_only=True):
    number: int
    description: str
    owner: str | None
    due_date: date | None
    done: bool


class EffectivenessCheck(Output, kw_only=True):
    effective: bool
    note: str
    checked_by: str | None
    checked_at: datetime


class Capa(Output, kw_only=True):
    capa_id: str
    kind: CapaKind
    title: str
    status: CapaStatus
    owner: str
    description: str | None
    nc_ids: list[str]
    due_date: date | None
    actions: list[CapaAction]
    effectiveness_checks: list[EffectivenessCheck]
    cause_codes: list[str]
    correction_codes: list[str]
    closed_at: datetime | None
    cancel_reason: str | None
    allowed_actions: NextActions
    version: int
    created_at: datetime
    updated_at: datetime
