"""Rows to wire shapes."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.kit.paging import as_utc
from contracts.kit.repository import to_wire
from contracts.models import qms as m
from system_apis.qms import domain
from system_apis.qms import store as s


def _at(moment: Any) -> Any:
    return as_utc(moment) if moment is not None else None


def result(row: s.ResultRow) -> m.CharacteristicResult:
    return m.CharacteristicResult(
        value=row.value,
        unit=row.unit,
        uncertainty=row.uncertainty,
        conforming=row.conforming,
        evaluation=m.Evaluation(row.evaluation),
        note=row.note,
        recorded_by=row.recorded_by,
        recorded_at=as_utc(row.recorded_at),
    )


def decision(row: s.DecisionRow) -> m.UsageDecision:
    return m.UsageDecision(
        revision=row.revision,
        code=row.code,
        disposition=m.Disposition(row.disposition),
        lot_result=m.LotResult(row.lot_result),
        decided_by=row.decided_by,
        decided_at=as_utc(row.decided_at),
        note=row.note,
    )


def failed_characteristics(row: s.InspectionLotRow) -> list[str]:
    failed = {r.characteristic_code for r in row.results if r.evaluation == m.Evaluation.FAIL}
    return [c.code for c in row.characteristics if c.code in failed]


def inspection_lot(row: s.InspectionLotRow) -> m.InspectionLot:
    results = {r.characteristic_code: r for r in row.results}
    decisions = [decision(d) for d in row.decisions]
    return m.InspectionLot(
        inspection_lot_id=row.id,
        origin=m.InspectionOrigin(row.origin),
        source_ref=row.source_ref,
        item_id=row.item_id,
        lot_id=row.lot_id,
        supplier_id=row.supplier_id,
        sample_size=row.sample_size,
        due_date=row.due_date,
        status=m.InspectionLotStatus(row.status),
        result=m.LotResult(row.result),
        failed_characteristics=failed_characteristics(row),
        characteristics=[
            m.Characteristic(
                code=c.code,
                kind=m.CharacteristicKind(c.kind),
                description=c.description,
                min_value=c.min_value,
                max_value=c.max_value,
                unit=c.unit,
                result=result(results[c.code]) if c.code in results else None,
            )
            for c in row.characteristics
        ],
        usage_decision=decisions[-1] if decisions else None,
        decisions=decisions,
        stock_txn_ids=list(row.stock_txn_ids),
        stock_posted_at=_at(row.stock_posted_at),
        stock_posted_quantity=row.stock_posted_quantity,
        closed_at=_at(row.closed_at),
        cancel_reason=row.cancel_reason,
        allowed_actions=domain.INSPECTION_LOT.actions(m.InspectionLotStatus(row.status)),
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
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
