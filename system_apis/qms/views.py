"""Rows to wire shapes."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.kit.repository import to_wire
from contracts.models import qms as m
from system_apis.qms import domain
from system_apis.qms import store as s


def result(row: s.ResultRow) -> m.CharacteristicResult:
    return to_wire(row, m.CharacteristicResult)


def decision(row: s.DecisionRow) -> m.UsageDecision:
    return to_wire(row, m.UsageDecision)


def failed_characteristics(row: s.InspectionLotRow) -> list[str]:
    failed = {r.characteristic_code for r in row.results if r.evaluation == m.Evaluation.FAIL}
    return [c.code for c in row.characteristics if c.code in failed]


def inspection_lot(row: s.InspectionLotRow) -> m.InspectionLot:
    results = {r.characteristic_code: result(r) for r in row.results}
    decisions = [decision(d) for d in row.decisions]
    return to_wire(
        row,
        m.InspectionLot,
        inspection_lot_id=row.id,
        failed_characteristics=failed_characteristics(row),
        characteristics=[
            to_wire(c, m.Characteristic, result=results.get(c.code)) for c in row.characteristics
        ],
        usage_decision=decisions[-1] if decisions else None,
        decisions=decisions,
        allowed_actions=domain.INSPECTION_LOT.actions(m.InspectionLotStatus(row.status)),
    )


def defect_code(row: s.DefectCodeRow) -> m.DefectCode:
    return to_wire(row, m.DefectCode, code=row.id, default_severity=row.default_severity or None)


def nonconformance(row: s.NonconformanceRow) -> m.Nonconformance:
    actions = domain.NONCONFORMANCE.actions(m.NcStatus(row.status))
    return to_wire(
        row, m.Nonconformance, nc_id=row.id, disposition=row.disposition or None, allowed_actions=actions
    )


def supplier_case(row: s.SupplierCaseRow) -> m.SupplierCase:
    actions = domain.SUPPLIER_CASE.actions(m.SupplierCaseStatus(row.status))
    return to_wire(row, m.SupplierCase, case_id=row.id, allowed_actions=actions)


def capa(row: s.CapaRow) -> m.Capa:
    return to_wire(row, m.Capa, capa_id=row.id, allowed_actions=domain.CAPA.actions(m.CapaStatus(row.status)))


def stored(value: Any) -> Any:
    """A wire Struct as JSON-column data (dates and datetimes as ISO strings)."""
    return msgspec.to_builtins(value)
