"""QMS system API v2 (`/qms/v2`): inspection results as structured measurements.

v1 flattens a result into `value`, `unit` and `uncertainty` beside each other and the limits into
`min_value`/`max_value`. v2 says what belongs together: a measurement is a quantity (value and
unit) with its measurement uncertainty in the same unit and the interval it spans, and a
characteristic's specification is a pair of quantities. The stored data is the same; only the
inspection-lot shapes differ, every other resource keeps its v1 shape.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from contracts.models.common import Id, Input, Name, Output, Text, Uom
from contracts.models.qms import (
    CharacteristicKind,
    Evaluation,
    InspectionLotStatus,
    InspectionOrigin,
    LotResult,
    Measure,
    NextActions,
    Uncertainty,
    UsageDecision,
)


class MeasurementInput(Input, kw_only=True):
    """A measured value in a unit; the uncertainty, if known, is in the same unit."""

    value: Measure
    unit: Uom
    uncertainty: Uncertainty | None = None


class ResultEntry(Input, kw_only=True):
    """numeric characteristics take a measurement; attribute ones take conforming."""

    characteristic: Id
    measurement: MeasurementInput | None = None
    conforming: bool | None = None
    note: Text | None = None


class ResultsRecord(Input, kw_only=True):
    results: Annotated[list[ResultEntry], msgspec.Meta(min_length=1, max_length=100)]
    recorded_by: Name | None = None


class Quantity(Output, kw_only=True):
    value: float
    unit: str


class MeasurementUncertainty(Output, kw_only=True):
    """The uncertainty recorded with the measurement (in the measurement's unit)."""

    value: float
    unit: str


class Interval(Output, kw_only=True):
    """value ± uncertainty: where the true value is believed to lie."""

    low: float
    high: float
    unit: str


class Measurement(Output, kw_only=True):
    value: float
    unit: str
    uncertainty: MeasurementUncertainty | None
    interval: Interval | None


class Specification(Output, kw_only=True):
    """The limits a numeric characteristic is judged against; either may be absent."""

    lower_limit: Quantity | None
    upper_limit: Quantity | None


class CharacteristicResult(Output, kw_only=True):
    measurement: Measurement | None  # numeric characteristics
    conforming: bool | None  # attribute characteristics
    evaluation: Evaluation
    note: str | None
    recorded_by: str | None
    recorded_at: datetime


class Characteristic(Output, kw_only=True):
    code: str
    kind: CharacteristicKind
    description: str | None
    specification: Specification | None
    result: CharacteristicResult | None


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
