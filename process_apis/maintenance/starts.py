"""What starts each flow: the event handlers and the API, both through `flows.start`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import cmms as cmms_events
from contracts.events import erp as erp_events
from contracts.events import mes as mes_events
from contracts.events import qms as qms_events
from contracts.kit import flows
from contracts.kit.consumer import Consumer
from contracts.kit.envelope import CloudEvent
from contracts.kit.flows.store import FlowStatus, flow_keys
from contracts.kit.flows.store import flows as flow_rows
from contracts.kit.paging import utcnow
from contracts.kit.problems import Conflict
from process_apis.maintenance import store
from process_apis.maintenance.flows import (
    BREAKDOWN,
    NC_MAINTENANCE,
    SPARES_REPLENISHMENT,
    WORK_ORDER_COMPLETION,
)
from process_apis.maintenance.rules import MaintenanceRules, NonconformanceRules


async def start_nc_maintenance(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    keys = {
        "equipment_id": data.get("equipment_id"),
        "nonconformance_id": data["nc_ids"][0],
        "order_id": data.get("order_id"),
        "lot_id": data.get("lot_id"),
    }
    return await flows.start(session, NC_MAINTENANCE, data, keys=keys, trigger=trigger)


async def start_nc_maintenance_by_hand(session: AsyncSession, data: dict[str, Any]) -> tuple[str, bool]:
    """An operator's start: the flow the named NCs already went into (False: nothing new), or a
    new flow that takes them (True). Its event, the threshold or an earlier start may have sent
    an NC into a flow already; a second flow would raise a second maintenance request for it."""
    nc_ids: list[str] = data["nc_ids"]
    taken = await store.nc_flows(session, nc_ids)
    owners = set(taken.values())
    if len(taken) == len(nc_ids) and len(owners) == 1:
        return owners.pop(), False
    if taken:
        raise _taken(taken, [nc_id for nc_id in nc_ids if nc_id not in taken])
    flow_id = await start_nc_maintenance(session, data, None)
    if not await store.take_ncs(session, nc_ids, flow_id, utcnow()):
        # Another start took one of them since we looked: this one is rolled back with its flow.
        raise _taken(await store.nc_flows(session, nc_ids), [])
    return flow_id, True


def _taken(taken: dict[str, str], free: list[str]) -> Conflict:
    went = ", ".join(f"{nc_id} into {flow_id}" for nc_id, flow_id in sorted(taken.items()))
    rest = f"start it for the others only ({', '.join(free)})" if free else "follow those flows"
    return Conflict(
        f"nonconformances already went into a maintenance flow ({went}): {rest}",
        slug="nonconformance-in-flow",
        title="Nonconformance already in a flow",
        flows=taken,
    )


async def start_completion_by_hand(session: AsyncSession, data: dict[str, Any]) -> tuple[str, bool]:
    """An operator's start: the work order's completion flow that was not cancelled (running,
    waiting, stalled or done; False: nothing new), or a new flow (True). Starting again never
    runs a second flow beside a live one; a stalled one is retried, or cancelled to start over."""
    earlier = await session.scalar(
        select(flow_rows.c.id)
        .join(flow_keys, flow_keys.c.flow_id == flow_rows.c.id)
        .where(
            flow_rows.c.type == WORK_ORDER_COMPLETION.name,
            flow_rows.c.status != FlowStatus.CANCELLED,
            flow_keys.c.name == "work_order_id",
            flow_keys.c.value == data["wo_id"],
        )
        .order_by(flow_rows.c.created_at.desc())
        .limit(1)
    )
    if earlier is not None:
        return str(earlier), False
    return await start_completion(session, data, None), True


async def start_completion(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    keys = {
        "work_order_id": data["wo_id"],
        "asset_id": data.get("asset_id"),
        "order_id": data.get("production_order"),
        "nonconformance_id": data.get("nc_id"),
    }
    return await flows.start(session, WORK_ORDER_COMPLETION, data, keys=keys, trigger=trigger)


async def start_breakdown(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    keys = {
        "equipment_id": data.get("equipment_id"),
        "asset_id": data.get("asset_id"),
        "order_id": data.get("order_id"),
    }
    return await flows.start(session, BREAKDOWN, data, keys=keys, trigger=trigger)


async def start_spares(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    keys = {"item_id": data["item_id"], "work_order_id": data.get("source_ref")}
    return await flows.start(session, SPARES_REPLENISHMENT, data, keys=keys, trigger=trigger)


async def nonconformance_opened(
    session: AsyncSession,
    rules: NonconformanceRules,
    nc: qms_events.NonconformanceOpened,
    at: datetime,
    trigger: str,
) -> str | None:
    """One NC of an immediate severity starts a flow; others count per machine within the
    window, and the one that reaches the threshold starts a flow for all of them."""
    equipment = nc.links.equipment_id
    if equipment is None:
        return None
    data: dict[str, Any] = {
        "equipment_id": equipment,
        "order_id": nc.links.production_order_id,
        "lot_id": nc.links.lot_id,
    }
    if nc.severity in rules.immediate_severities:
        owner = (await store.nc_flows(session, [nc.nc_id])).get(nc.nc_id)
        if owner is not None and owner != await _started_by(session, trigger):
            return owner  # an operator started maintenance for it before its event came
        flow_id = await start_nc_maintenance(
            session, data | {"nc_ids": [nc.nc_id], "started_by": "severity"}, trigger
        )
        await store.record_nc(session, nc.nc_id, equipment, nc.severity, at, flow_id)
        return flow_id
    if rules.threshold_count <= 0:
        return None
    await store.record_nc(session, nc.nc_id, equipment, nc.severity, at)
    pending = await store.pending_ncs(session, equipment, at - timedelta(minutes=rules.window_minutes))
    if len(pending) < rules.threshold_count:
        return None
    flow_id = await start_nc_maintenance(
        session,
        data | {"nc_ids": pending, "started_by": "threshold"},
        f"nc-threshold:{equipment}:{pending[0]}",
    )
    await store.assign_ncs(session, pending, flow_id)
    return flow_id


async def _started_by(session: AsyncSession, trigger: str) -> str | None:
    """The flow this trigger started, if any: a redelivered (or replayed) event goes on to
    `start`, which resumes its flow if it stalled."""
    found = await session.scalar(select(flow_rows.c.id).where(flow_rows.c.trigger == trigger))
    return None if found is None else str(found)


def subscribe(consumer: Consumer, rules: MaintenanceRules) -> Consumer:
    async def on_nonconformance(event: CloudEvent, session: AsyncSession) -> None:
        await nonconformance_opened(session, rules.nonconformance, event.data, event.time, event.id)

    async def on_work_order_completed(event: CloudEvent, session: AsyncSession) -> None:
        wo: cmms_events.WorkOrderCompleted = event.data
        await start_completion(
            session,
            {
                "wo_id": wo.wo_id,
                "asset_id": wo.asset_id,
                "production_order": wo.production_order,
                "nc_id": wo.nonconformance_id,
            },
            event.id,
        )

    async def on_equipment_state(event: CloudEvent, session: AsyncSession) -> None:
        change: mes_events.EquipmentStateChanged = event.data
        if change.to_state == "down":
            alarm = f"alarm {change.alarm}" if change.alarm else None
            await start_breakdown(
                session,
                {
                    "source": "mes",
                    "equipment_id": change.equipment_id,
                    "order_id": change.order_id,
                    "reason": change.reason or alarm or "equipment down",
                    "at": event.time.isoformat(),
                },
                event.id,
            )

    async def on_asset_down(event: CloudEvent, session: AsyncSession) -> None:
        down: cmms_events.AssetDown = event.data
        # Reported down together with its request (by a person, or by a breakdown flow): nothing to raise.
        if down.maintenance_request_id is None:
            await start_breakdown(
                session,
                {
                    "source": "cmms",
                    "asset_id": down.asset_id,
                    "reason": down.reason or "asset down",
                    "at": down.started_at.isoformat(),
                },
                event.id,
            )

    async def on_asset_restored(event: CloudEvent, session: AsyncSession) -> None:
        restored: cmms_events.AssetRestored = event.data
        await store.release_breakdown(session, restored.asset_id)

    async def on_inventory_txn(event: CloudEvent, session: AsyncSession) -> None:
        txn: erp_events.InventoryTxnPosted = event.data
        if txn.type == "issue":
            await start_spares(session, {"item_id": txn.item_id, "source_ref": txn.order_ref}, event.id)

    consumer.on("qms.nonconformance.opened.v1", on_nonconformance)
    consumer.on("cmms.work_order.completed.v1", on_work_order_completed)
    consumer.on("mes.equipment.state_changed.v1", on_equipment_state)
    consumer.on("cmms.asset.down.v1", on_asset_down)
    consumer.on("cmms.asset.restored.v1", on_asset_restored)
    consumer.on("erp.inventory_txn.posted.v1", on_inventory_txn)
    return consumer
