"""What starts each flow: the event handlers and the API, both through `flows.start`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import cmms as cmms_events
from contracts.events import erp as erp_events
from contracts.events import mes as mes_events
from contracts.events import qms as qms_events
from contracts.kit import flows
from contracts.kit.consumer import Consumer
from contracts.kit.envelope import CloudEvent
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
