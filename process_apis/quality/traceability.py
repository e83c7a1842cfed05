"""Recall in one call: where a supplier's lot (or any lot) went and where it came from, with each
lot's stock, movements, inspections and nonconformances.

The walk through production is MES's (its genealogy, any depth, in one recursive query); this
process API composes it with ERP (which lots a supplier lot became, their stock and movements) and
QMS (inspections and nonconformances per lot), because a question that crosses systems belongs in
the layer that calls them all, not in any one of them. Calls to the systems below go out at most
`FAN_OUT` at a time, and at most `max_lots` lots are described, so one recall cannot flood them.
ERP and MES are needed for the walk (without them: 503); QMS details are filled in where it
answers, and `warnings` says where it did not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from contracts.clients.answers import UPSTREAM_ERRORS, as_problem, critical, optional
from contracts.clients.base import UpstreamProblem
from contracts.kit.wire.projection import project
from contracts.models import erp, mes, qms
from contracts.models import quality as m
from process_apis.quality.deps import Upstreams

T = TypeVar("T")
FAN_OUT = 8  # calls in flight to the systems below, per recall
NO_LOT = "No such lot."
D, R = m.TraceDirection, m.LotRelation
Where = tuple[m.LotRelation, int, str | None]  # relation, depth, item
WALKS = {
    D.BOTH: (mes.TraceDirection.WHERE_USED, mes.TraceDirection.WHERE_FROM),
    D.WHERE_USED: (mes.TraceDirection.WHERE_USED,),
    D.WHERE_FROM: (mes.TraceDirection.WHERE_FROM,),
}
RELATION = {mes.TraceDirection.WHERE_USED: R.WHERE_USED, mes.TraceDirection.WHERE_FROM: R.WHERE_FROM}
MOVED = {
    erp.MovementType.RECEIPT: "received",
    erp.MovementType.ISSUE: "issued",
    erp.MovementType.SCRAP: "scrapped",
    erp.MovementType.RETURN_TO_VENDOR: "returned",
}


@dataclass
class _Found:
    """The lots reached so far: each once, with its nearest relation and depth."""

    relation: dict[str, Where] = field(default_factory=dict)
    orders: dict[str, m.TracedOrder] = field(default_factory=dict)

    def lot(self, lot_id: str, relation: m.LotRelation, depth: int, item_id: str | None) -> None:
        known = self.relation.get(lot_id)
        if known is None or (known[0] != R.START and depth < known[1]):
            self.relation[lot_id] = (relation, depth, item_id or (known[2] if known else None))


async def trace(
    up: Upstreams,
    *,
    supplier_lot: str | None,
    lot_id: str | None,
    direction: m.TraceDirection,
    max_depth: int,
    max_lots: int,
) -> m.Traceability:
    gate = asyncio.Semaphore(FAN_OUT)
    warnings: list[tuple[str, str]] = []
    starts = await _starts(up, gate, supplier_lot, lot_id)
    found = _Found()
    for start in starts:
        found.lot(start, R.START, 0, None)

    async def walk(start: str, way: mes.TraceDirection) -> mes.Genealogy:
        async with gate:
            genealogy = up.mes.genealogy(start, way, max_depth=max_depth, max_orders=max_lots)
            return await critical("mes", genealogy, NO_LOT)

    genealogies = await asyncio.gather(*(walk(start, way) for start in starts for way in WALKS[direction]))
    truncated = False
    for genealogy in genealogies:
        truncated |= genealogy.truncated
        _collect(found, genealogy)
    ranked = sorted(found.relation.items(), key=lambda kv: (kv[1][0] != R.START, kv[1][1], kv[0]))
    truncated |= len(ranked) > max_lots
    lots = await asyncio.gather(
        *(_describe(up, gate, lot, where, warnings) for lot, where in ranked[:max_lots])
    )
    return m.Traceability(
        supplier_lot=supplier_lot,
        lot_id=lot_id,
        direction=direction,
        max_depth=max_depth,
        lots=list(lots),
        orders=sorted(found.orders.values(), key=lambda o: (o.relation, o.depth, o.order_id)),
        truncated=truncated,
        warnings=[m.UpstreamWarning(source=s, detail=d) for s, d in dict.fromkeys(warnings)],
    )


async def _starts(
    up: Upstreams, gate: asyncio.Semaphore, supplier_lot: str | None, lot_id: str | None
) -> list[str]:
    if lot_id is not None:
        return [lot_id]
    assert supplier_lot is not None
    lots = await _bounded(gate, lambda: critical("erp", up.erp.lots_by_supplier_lot(supplier_lot), NO_LOT))
    return sorted(lot.lot_id for lot in lots)


def _collect(found: _Found, genealogy: mes.Genealogy) -> None:
    relation = RELATION[genealogy.direction]
    for order in genealogy.orders:
        found.orders.setdefault(order.order_id, project(order, m.TracedOrder, relation=relation))
        # Down the lots an order made; up the lots that went into it.
        reached = order.outputs if relation == R.WHERE_USED else order.inputs
        for lot in reached:
            found.lot(lot.lot_id, relation, order.depth, lot.item_id)


async def _describe(
    up: Upstreams,
    gate: asyncio.Semaphore,
    lot_id: str,
    where: Where,
    warnings: list[tuple[str, str]],
) -> m.TracedLot:
    relation, depth, item_id = where
    record, moves, inspections, ncs = await asyncio.gather(
        _bounded(gate, lambda: _erp_lot(up, lot_id)),
        _bounded(gate, lambda: critical("erp", up.erp.list_movements(lot_id=lot_id), NO_LOT)),
        _bounded(gate, lambda: optional("qms", up.qms.find_inspection_lots(lot_id=lot_id), warnings)),
        _bounded(gate, lambda: optional("qms", up.qms.find_nonconformances(lot_id=lot_id), warnings)),
    )
    return m.TracedLot(
        lot_id=lot_id,
        item_id=record.item_id if record else item_id,
        relation=relation,
        depth=depth,
        in_erp=record is not None,
        supplier_id=record.supplier_id if record else None,
        supplier_lot=record.supplier_lot if record else None,
        origin=record.origin if record else None,
        on_hand=record.quantity if record else None,
        stock=[
            m.StockLine(location=b.location, status=b.status.value, quantity=b.quantity)
            for b in record.balances
        ]
        if record
        else [],
        quantities=moved(moves) if record else None,
        inspections=[_inspection(i) for i in inspections] if inspections is not None else None,
        nonconformances=[_nc(n) for n in ncs] if ncs is not None else None,
    )


async def _erp_lot(up: Upstreams, lot_id: str) -> erp.Lot | None:
    try:
        return await up.erp.get_lot(lot_id)
    except UpstreamProblem as exc:
        if exc.status == 404:
            return None  # a lot only MES knows (work in progress, or made for another site's stock)
        raise as_problem("erp", exc) from exc
    except UPSTREAM_ERRORS as exc:
        raise as_problem("erp", exc) from exc


def moved(moves: Iterable[erp.InventoryTransaction]) -> m.MovedQuantities:
    """Quantities per kind of movement; a reversal takes its original's quantity back."""
    by_id = {t.txn_id: t for t in moves}
    totals = dict.fromkeys(MOVED.values(), 0.0)
    for txn in by_id.values():
        sign, kind = 1.0, txn.type
        if txn.type == erp.MovementType.REVERSAL and txn.reverses in by_id:
            sign, kind = -1.0, by_id[txn.reverses].type
        if kind in MOVED:
            totals[MOVED[kind]] += sign * txn.quantity
    return m.MovedQuantities(**{k: round(v, 3) for k, v in totals.items()})


def _inspection(lot: qms.InspectionLot) -> m.InspectionSummary:
    decision = lot.usage_decision
    return m.InspectionSummary(
        inspection_lot_id=lot.inspection_lot_id,
        status=lot.status.value,
        result=lot.result.value,
        disposition=decision.disposition.value if decision else None,
        decided_at=decision.decided_at if decision else None,
    )


def _nc(nc: qms.Nonconformance) -> m.NonconformanceSummary:
    return m.NonconformanceSummary(
        nc_id=nc.nc_id,
        title=nc.title,
        severity=nc.severity.value,
        status=nc.status.value,
        disposition=nc.disposition.value if nc.disposition else None,
        created_at=nc.created_at,
    )


async def _bounded(gate: asyncio.Semaphore, call: Callable[[], Awaitable[T]]) -> T:
    async with gate:
        return await call()
