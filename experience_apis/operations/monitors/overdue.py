"""Work that is late by its own due date: inspections not decided, supplier cases not answered."""

from __future__ import annotations

import asyncio
from datetime import datetime

from contracts.models import qms
from contracts.models.operations import Offender
from experience_apis.operations.monitors.base import FAILURES, Found, Monitor, end_of
from experience_apis.operations.upstreams import Upstreams

OPEN_INSPECTION = (
    qms.InspectionLotStatus.CREATED,
    qms.InspectionLotStatus.IN_INSPECTION,
    qms.InspectionLotStatus.RESULTS_RECORDED,
)
AWAITING_SUPPLIER = (
    qms.SupplierCaseStatus.OPEN,
    qms.SupplierCaseStatus.ISSUED,
    qms.SupplierCaseStatus.REJECTED,
)


async def overdue_inspections(up: Upstreams, now: datetime) -> Found:
    found = Found()
    try:
        groups = await asyncio.gather(*(up.qms.find_inspection_lots(status=s) for s in OPEN_INSPECTION))
    except FAILURES as exc:
        found.warn("qms", exc, "open inspections unknown")
        return found
    for il in (il for group in groups for il in group):
        if il.due_date is None or end_of(il.due_date) > now:
            continue
        found.items.append(
            Offender(
                record_type="inspection_lot",
                record_id=il.inspection_lot_id,
                summary=f"Inspection of lot {il.lot_id} ({il.item_id}) is {il.status.value}, "
                f"due {il.due_date.isoformat()}",
                since=end_of(il.due_date),
                links={
                    "qms": f"/qms/v1/inspection-lots/{il.inspection_lot_id}",
                    "erp": f"/erp/v1/lots/{il.lot_id}",
                },
                details={
                    "lot_id": il.lot_id,
                    "item_id": il.item_id,
                    "supplier_id": il.supplier_id,
                    "status": il.status.value,
                    "due_date": il.due_date.isoformat(),
                    "origin": il.origin.value,
                },
            )
        )
    return found


async def overdue_supplier_cases(up: Upstreams, now: datetime) -> Found:
    found = Found()
    try:
        groups = await asyncio.gather(*(up.qms.find_supplier_cases(status=s) for s in AWAITING_SUPPLIER))
    except FAILURES as exc:
        found.warn("qms", exc, "open supplier cases unknown")
        return found
    for case in (c for group in groups for c in group):
        if case.due_date is None or end_of(case.due_date) > now:
            continue
        found.items.append(
            Offender(
                record_type="supplier_case",
                record_id=case.case_id,
                summary=f"{case.supplier_id}: “{case.title}” is {case.status.value}, "
                f"response due {case.due_date.isoformat()}",
                since=end_of(case.due_date),
                links={"qms": f"/qms/v1/supplier-cases/{case.case_id}"},
                details={
                    "supplier_id": case.supplier_id,
                    "status": case.status.value,
                    "due_date": case.due_date.isoformat(),
                    "lot_ids": case.lot_ids,
                    "nc_ids": case.nc_ids,
                },
            )
        )
    return found


MONITORS = (
    Monitor(
        "overdue-inspections",
        "Inspections past due",
        "Inspection lots not yet decided after their due date.",
        overdue_inspections,
    ),
    Monitor(
        "overdue-supplier-cases",
        "Supplier cases past their response date",
        "Supplier quality cases (open, issued or rejected) still waiting for the supplier after their "
        "due date.",
        overdue_supplier_cases,
    ),
)
