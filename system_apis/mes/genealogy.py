"""Lot genealogy at any depth: the production orders a lot went into (and the lots they made, and
the orders those went into ...) or came out of, in one recursive query.

An edge of the genealogy is an order: the lots it consumed (`consumptions`) in, the lots its
batches completed (`batches`) out. The walk is a recursive CTE over orders, on SQLite and
PostgreSQL alike, bounded by depth; `UNION` (not `UNION ALL`) drops an order reached twice at the
same depth, and the depth bound ends any cycle a data error could make. Then one query per table
reads the reached orders' inputs and outputs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.models import mes as m
from system_apis.mes import store as s

_CHUNK = 500  # ids per IN list: well under SQLite's 32766 bound parameters

consumed, made, orders = s.ConsumptionRow.__table__, s.BatchRow.__table__, s.ProductionOrderRow.__table__


def _reached(lot_id: str, direction: m.TraceDirection, max_depth: int, max_orders: int) -> Select[Any]:
    """(order_id, depth) of every order within `max_depth`, nearest first."""
    # The lot's own side: orders that consumed it (where used) or made it (where from).
    near, far = (consumed, made) if direction == m.TraceDirection.WHERE_USED else (made, consumed)
    seed = select(near.c.order_id, literal(1).label("depth")).where(near.c.lot_id == lot_id)
    reached = seed.cte("reached", recursive=True)
    # From a reached order, through the lots on its far side, to the orders on their near side.
    hop_far, hop_near = far.alias("hop_far"), near.alias("hop_near")
    step = (
        select(hop_near.c.order_id, reached.c.depth + 1)
        .select_from(
            reached.join(hop_far, hop_far.c.order_id == reached.c.order_id).join(
                hop_near, hop_near.c.lot_id == hop_far.c.lot_id
            )
        )
        # (No `lot_id IS NOT NULL` here: the join drops NULLs anyway, and with statistics the
        # condition makes SQLite build a Bloom filter over a whole table on every step.)
        .where(reached.c.depth < max_depth)
    )
    reached = reached.union(step)
    depth = func.min(reached.c.depth).label("depth")
    return (
        select(reached.c.order_id, depth)
        .group_by(reached.c.order_id)
        .order_by(depth, reached.c.order_id)
        .limit(max_orders + 1)
    )


async def trace(
    session: AsyncSession, lot_id: str, direction: m.TraceDirection, max_depth: int, max_orders: int
) -> m.Genealogy:
    found = (await session.execute(_reached(lot_id, direction, max_depth, max_orders))).all()
    truncated = len(found) > max_orders
    depth_of = {row.order_id: row.depth for row in found[:max_orders]}
    ids = list(depth_of)
    inputs: dict[str, list[m.TracedLot]] = defaultdict(list)
    outputs: dict[str, list[m.TracedLot]] = defaultdict(list)
    heads: dict[str, Any] = {}
    for chunk in _chunks(ids):
        for side, table in ((inputs, consumed), (outputs, made)):
            for row in await session.execute(_lots_of(table, chunk)):
                side[row.order_id].append(
                    m.TracedLot(
                        lot_id=row.lot_id, item_id=row.item_id, quantity=round(row.quantity, 3), uom=row.uom
                    )
                )
        head = select(orders.c.id, orders.c.item_id, orders.c.status, orders.c.site)
        heads |= {row.id: row for row in await session.execute(head.where(orders.c.id.in_(chunk)))}
    return m.Genealogy(
        lot_id=lot_id,
        direction=direction,
        max_depth=max_depth,
        orders=[
            m.TracedOrder(
                order_id=order_id,
                item_id=heads[order_id].item_id,
                status=heads[order_id].status,
                site=heads[order_id].site,
                depth=depth,
                inputs=sorted(inputs[order_id], key=lambda lot: lot.lot_id),
                outputs=sorted(outputs[order_id], key=lambda lot: lot.lot_id),
            )
            for order_id, depth in depth_of.items()
        ],
        truncated=truncated,
    )


def _lots_of(table: Any, chunk: list[str]) -> Select[Any]:
    """Per order in `chunk`: its lots on this side (consumed or made), each with its total quantity."""
    keys = (table.c.order_id, table.c.lot_id, table.c.item_id, table.c.uom)
    return (
        select(*keys, func.sum(table.c.quantity).label("quantity"))
        .where(table.c.order_id.in_(chunk), table.c.lot_id.is_not(None))
        .group_by(*keys)
    )


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
