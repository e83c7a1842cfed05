"""Holds that differ between QMS and ERP: a usage decision says block or rework (or release) and
ERP's stock says otherwise. A nonconformance on the lot explains a difference only when its
disposition allows what ERP shows (use as is frees held stock; rework, or any open nonconformance,
holds released stock): the rule is `contracts/holds.py`, the one reconciliation repairs by."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from contracts import holds
from contracts.clients.base import UpstreamProblem
from contracts.models import erp, qms
from contracts.models import quality as m
from contracts.models.operations import Offender
from experience_apis.operations.monitors.base import FAILURES, Found, Monitor, since_window
from experience_apis.operations.upstreams import Upstreams

BLK = erp.StockStatus.BLOCKED
DECIDED_STATES = (qms.InspectionLotStatus.DECIDED, qms.InspectionLotStatus.STOCK_POSTED)


async def latest_decisions(up: Upstreams, now: datetime) -> list[qms.InspectionLot]:
    """Per ERP lot, the inspection lot with the latest usage decision (decided, not yet closed)."""
    return await up.qms.latest_decisions(DECIDED_STATES, updated_since=since_window(up, now))


def free_quantity(lot: erp.Lot) -> float:
    return sum(b.quantity for b in lot.balances if b.status != BLK and b.quantity > 0)


def _drifted(lot: erp.Lot | None) -> bool:
    return lot is None or free_quantity(lot) > 0


def blocked_quantity(lot: erp.Lot) -> float:
    return sum(b.quantity for b in lot.balances if b.status == BLK and b.quantity > 0)


async def erp_lots(up: Upstreams, lot_ids: Iterable[str]) -> dict[str, erp.Lot | None]:
    """ERP's view of these lots: every BLOCKED lot in one listing, the others one by one
    (None: ERP does not know the lot)."""
    wanted = set(lot_ids)
    known: dict[str, erp.Lot | None] = {
        lot.lot_id: lot for lot in await up.erp.list_lots(status=BLK, limit=500) if lot.lot_id in wanted
    }
    missing = sorted(wanted - known.keys())
    fetched = await asyncio.gather(*(_lot_or_none(up, lot_id) for lot_id in missing))
    known.update(zip(missing, fetched, strict=True))
    return known


async def _lot_or_none(up: Upstreams, lot_id: str) -> erp.Lot | None:
    try:
        return await up.erp.get_lot(lot_id)
    except UpstreamProblem as exc:
        if exc.status == 404:
            return None
        raise


async def explained(up: Upstreams, decided: list[qms.InspectionLot], *, blocked: bool) -> set[str]:
    """Lots whose nonconformances allow what ERP shows: free stock (`blocked` False) or BLOCKED
    stock (`blocked` True) against the decision."""
    found = await asyncio.gather(*(up.qms.find_nonconformances(lot_id=il.lot_id) for il in decided))
    out = set()
    for il, ncs in zip(decided, found, strict=True):
        assert il.usage_decision is not None
        decision = il.usage_decision.disposition.value
        said, open_nc = holds.nonconformances(ncs)
        allowed = (
            holds.blocked_stock_allowed(decision, said, open_nc)
            if blocked
            else holds.free_stock_allowed(decision, said)
        )
        if allowed:
            out.add(il.lot_id)
    return out


def _offender(il: qms.InspectionLot, lot: erp.Lot | None, summary: str, erp_known: bool) -> Offender:
    decision = il.usage_decision
    assert decision is not None
    details: dict[str, object] = {
        "inspection_lot_id": il.inspection_lot_id,
        "item_id": il.item_id,
        "supplier_id": il.supplier_id,
        "disposition": decision.disposition.value,
        "qms_status": il.status.value,
        "decided_by": decision.decided_by,
    }
    if erp_known:
        details["erp_balances"] = (
            [{"location": b.location, "status": b.status.value, "quantity": b.quantity} for b in lot.balances]
            if lot
            else None
        )
    return Offender(
        record_type="lot",
        record_id=il.lot_id,
        summary=summary,
        since=decision.decided_at,
        links={
            "erp": f"/erp/v1/lots/{il.lot_id}",
            "qms": f"/qms/v1/inspection-lots/{il.inspection_lot_id}",
            "flows": f"/quality/v1/flows?lot_id={il.lot_id}",
        },
        details=details,
    )


async def holds_not_in_erp(up: Upstreams, now: datetime) -> Found:
    found = Found()
    try:
        decided = await latest_decisions(up, now)
    except FAILURES as exc:
        found.warn("qms", exc, "no decisions to compare")
        return found
    held = [il for il in decided if il.usage_decision and il.usage_decision.disposition in holds.HOLDING]
    if not held:
        return found
    try:
        lots = await erp_lots(up, (il.lot_id for il in held))
    except FAILURES as exc:
        # ERP's stock is unknown: list the blocks QMS has not yet seen posted to ERP.
        found.warn("erp", exc, "listing the blocks QMS has not seen posted to ERP")
        for il in held:
            if il.status == qms.InspectionLotStatus.DECIDED:
                found.items.append(
                    _offender(il, None, "Blocked in QMS; ERP has not confirmed the block", False)
                )
        return found
    drifted = [il for il in held if _drifted(lots.get(il.lot_id))]
    try:
        skip = await explained(up, drifted, blocked=False)
    except FAILURES as exc:
        found.warn("qms", exc, "nonconformance dispositions not checked")
        skip = set()
    for il in drifted:
        if il.lot_id in skip:
            continue
        lot = lots.get(il.lot_id)
        summary = (
            f"Blocked in QMS; {free_quantity(lot):g} not BLOCKED in ERP"
            if lot
            else "Blocked in QMS; ERP does not know the lot"
        )
        found.items.append(_offender(il, lot, summary, True))
    return found


async def blocks_not_in_qms(up: Upstreams, now: datetime) -> Found:
    found = Found()
    try:
        decided = await latest_decisions(up, now)
    except FAILURES as exc:
        found.warn("qms", exc, "no decisions to compare")
        return found
    freed = [il for il in decided if il.usage_decision and il.usage_decision.disposition in holds.FREEING]
    if not freed:
        return found
    try:
        blocked = {lot.lot_id: lot for lot in await up.erp.list_lots(status=BLK, limit=500)}
    except FAILURES as exc:
        found.warn("erp", exc, "blocked stock unknown")
        return found
    drifted = [il for il in freed if il.lot_id in blocked]
    try:
        skip = await explained(up, drifted, blocked=True)
    except FAILURES as exc:
        found.warn("qms", exc, "open nonconformances not checked")
        skip = set()
    for il in drifted:
        if il.lot_id not in skip:
            lot = blocked[il.lot_id]
            summary = f"Released in QMS; {blocked_quantity(lot):g} BLOCKED in ERP"
            found.items.append(_offender(il, lot, summary, True))
    return found


async def open_disagreements(up: Upstreams, now: datetime) -> Found:
    """What reconciliation found out of step and has not seen put right."""
    found = Found()
    try:
        rows = [
            d
            for status in (m.DisagreementStatus.OPEN, m.DisagreementStatus.REPAIRING)
            for d in await up.quality.list_disagreements(status=status)
        ]
    except FAILURES as exc:
        found.warn("quality", exc, "disagreements unknown")
        return found
    for d in rows:
        found.items.append(
            Offender(
                record_type="disagreement",
                record_id=d.disagreement_id,
                summary=f"Lot {d.lot_id}: {d.summary} ({d.status})",
                since=d.found_at,
                links={
                    "disagreement": f"/quality/v1/disagreements/{d.disagreement_id}",
                    "erp": f"/erp/v1/lots/{d.lot_id}",
                    "flows": f"/quality/v1/flows?lot_id={d.lot_id}",
                },
                details={"lot_id": d.lot_id, "kind": d.kind.value, "repair_flow_id": d.repair_flow_id},
            )
        )
    return found


MONITORS = (
    Monitor(
        "holds-not-in-erp",
        "Holds not in ERP",
        "Lots whose latest usage decision in QMS is block or rework while ERP still has stock of them "
        "that is not BLOCKED and no nonconformance frees it (use as is); or, when ERP does not answer, "
        "blocks QMS has not seen posted.",
        holds_not_in_erp,
    ),
    Monitor(
        "blocks-not-in-qms",
        "Blocks not in QMS",
        "Lots QMS released (release, use as is) that ERP holds BLOCKED, with no open nonconformance "
        "or rework disposition to explain it.",
        blocks_not_in_qms,
    ),
    Monitor(
        "disagreements",
        "Disagreements",
        "What the quality process's reconciliation found out of step between QMS, ERP and MES and has "
        "not yet seen put right (open, or a repair running); repair them from the console.",
        open_disagreements,
    ),
)
