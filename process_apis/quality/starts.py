"""What starts each flow: the event handlers and the API, both through `flows.start`."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.clients.answers import UPSTREAM_ERRORS, as_problem
from contracts.clients.base import UpstreamProblem
from contracts.clients.qms import QmsClient
from contracts.events import erp as erp_events
from contracts.events import mes as mes_events
from contracts.events import qms as qms_events
from contracts.events import quality as quality_events
from contracts.kit import flows
from contracts.kit.consumer import Consumer
from contracts.kit.envelope import CloudEvent
from contracts.kit.problems import Conflict, Unprocessable
from contracts.models import qms, quality
from process_apis.quality.flows import (
    NC_DISPOSITION,
    PROCUREMENT_NOTICE,
    PRODUCTION_INSPECTION,
    RECEIPT_INSPECTION,
    USAGE_DECISION,
)
from process_apis.quality.notifications import DEFECT_THRESHOLD
from process_apis.quality.rules import QualityRules
from process_apis.quality.shopfloor import MATERIAL_CONSUMPTION


async def start_receipt_inspection(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    keys = {"lot_id": data["lot_id"], "supplier_id": data.get("supplier_id"), "order_id": data.get("po_id")}
    return await flows.start(session, RECEIPT_INSPECTION, data, keys=keys, trigger=trigger)


async def start_usage_decision(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    keys = {"lot_id": data["lot_id"], "supplier_id": data.get("supplier_id")}
    return await flows.start(session, USAGE_DECISION, data, keys=keys, trigger=trigger)


async def decision_held_by_qms(
    qms_api: QmsClient, data: quality.UsageDecisionStart, started_by_key: str | None
) -> dict[str, Any]:
    """The usage-decision flow's data for an operator's start: the decision QMS holds for the
    inspection lot, never one that only the caller names (its flow would move stock that nobody
    decided about). The caller's token joins the decider among those who may not approve it."""
    try:
        lot = await qms_api.get_inspection_lot(data.inspection_lot_id)
    except UPSTREAM_ERRORS as exc:
        if isinstance(exc, UpstreamProblem) and exc.status == 404:  # an id in the body: 422, not 404
            raise Unprocessable(
                f"QMS has no inspection lot {data.inspection_lot_id}", slug="unknown-inspection-lot"
            ) from exc
        raise as_problem("qms", exc) from exc
    held = lot.usage_decision
    named = (data.lot_id, data.item_id, data.code, data.disposition, data.decided_by)
    if held is None or named != (lot.lot_id, lot.item_id, held.code, held.disposition, held.decided_by):
        what = (
            "no usage decision"
            if held is None
            else f"decision {held.code} ({held.disposition}) by {held.decided_by} on lot {lot.lot_id} "
            f"({lot.item_id})"
        )
        raise Conflict(
            f"QMS holds {what} for inspection lot {lot.inspection_lot_id}: a flow acts only on the "
            "decision recorded there",
            slug="decision-not-recorded",
            title="Decision not recorded in QMS",
        )
    return {
        "inspection_lot_id": lot.inspection_lot_id,
        "lot_id": lot.lot_id,
        "item_id": lot.item_id,
        "origin": lot.origin,
        "code": held.code,
        "disposition": held.disposition,
        "decided_by": held.decided_by,
        "failed_characteristics": [],
        "supplier_id": lot.supplier_id,
        "source_ref": lot.source_ref,
        "started_by_key": started_by_key,
    }


async def start_production_inspection(
    session: AsyncSession, data: dict[str, Any], trigger: str | None
) -> str:
    keys = {"lot_id": data["lot_id"], "order_id": data["order_id"]}
    return await flows.start(session, PRODUCTION_INSPECTION, data, keys=keys, trigger=trigger)


async def start_nc_disposition(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    keys = {"lot_id": data["lot_id"], "nonconformance_id": data["nc_id"]}
    return await flows.start(session, NC_DISPOSITION, data, keys=keys, trigger=trigger)


async def start_material_consumption(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    keys = {"lot_id": data.get("lot_id"), "order_id": data["order_id"], "item_id": data["item_id"]}
    return await flows.start(session, MATERIAL_CONSUMPTION, data, keys=keys, trigger=trigger)


async def start_procurement_notice(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    keys = {"lot_id": data["lot_id"], "supplier_id": data["supplier_id"], "order_id": data.get("po_id")}
    return await flows.start(session, PROCUREMENT_NOTICE, data, keys=keys, trigger=trigger)


async def start_defect_threshold(session: AsyncSession, data: dict[str, Any], trigger: str | None) -> str:
    links = data["links"]
    keys = {
        "nonconformance_id": data["nc_id"],
        "item_id": links.get("item_id"),
        "lot_id": links.get("lot_id"),
    }
    return await flows.start(session, DEFECT_THRESHOLD, data, keys=keys, trigger=trigger)


def subscribe(consumer: Consumer, rules: QualityRules) -> Consumer:
    async def on_receipt(event: CloudEvent, session: AsyncSession) -> None:
        receipt: erp_events.GoodsReceiptPosted = event.data
        # Production receipts are inspected by the production flow that posted them.
        if receipt.source == "purchase" and rules.inspects(receipt.item_id, receipt.inspection_required):
            await start_receipt_inspection(
                session,
                {
                    "origin": qms.InspectionOrigin.GOODS_RECEIPT,
                    "source_ref": receipt.receipt_id,
                    "item_id": receipt.item_id,
                    "lot_id": receipt.lot_id,
                    "supplier_id": receipt.supplier_id,
                    "quantity": receipt.quantity,
                    "po_id": receipt.po_id,
                },
                event.id,
            )

    async def on_decision(event: CloudEvent, session: AsyncSession) -> None:
        decision: qms_events.UsageDecisionMade = event.data
        await start_usage_decision(
            session,
            {
                "inspection_lot_id": decision.inspection_lot_id,
                "lot_id": decision.lot_id,
                "item_id": decision.item_id,
                "origin": decision.origin,
                "code": decision.code,
                "disposition": decision.disposition,
                "decided_by": decision.decided_by,
                "failed_characteristics": decision.failed_characteristics,
                "supplier_id": decision.supplier_id,
                "decided_by_key": decision.decided_by_key,
                "source_ref": decision.source_ref,
            },
            event.id,
        )

    async def on_batch_completed(event: CloudEvent, session: AsyncSession) -> None:
        batch: mes_events.BatchCompleted = event.data
        await start_production_inspection(
            session,
            {
                "order_id": batch.order_id,
                "batch_id": batch.batch_id,
                "item_id": batch.item_id,
                "lot_id": batch.lot_id,
                "quantity": batch.quantity,
                "location": batch.location or rules.finished_goods_location,
            },
            event.id,
        )

    async def on_nc(
        event: CloudEvent,
        session: AsyncSession,
        nc_id: str,
        disposition: str | None,
        links: qms_events.NcLinks,
    ) -> None:
        if disposition and links.lot_id:
            await start_nc_disposition(
                session, {"nc_id": nc_id, "lot_id": links.lot_id, "disposition": disposition}, event.id
            )

    async def on_nc_opened(event: CloudEvent, session: AsyncSession) -> None:
        nc: qms_events.NonconformanceOpened = event.data
        # An NC opened by a usage decision: that decision's flow already moved the stock.
        if nc.links.inspection_lot_id is None:
            await on_nc(event, session, nc.nc_id, nc.disposition, nc.links)
        if rules.notifications.defect_thresholds:
            data = {"nc_id": nc.nc_id, "severity": nc.severity, "links": msgspec.to_builtins(nc.links)}
            await start_defect_threshold(session, data, f"{event.id}:defect_threshold")

    async def on_consumed(event: CloudEvent, session: AsyncSession) -> None:
        consumed: mes_events.MaterialConsumed = event.data
        # One flow per consumption, however often it is delivered (a replay, MES sending it again).
        trigger = f"mes-consumption:{consumed.consumption_id}"
        await start_material_consumption(session, msgspec.to_builtins(consumed), trigger)

    async def on_procurement_notice(event: CloudEvent, session: AsyncSession) -> None:
        notice: quality_events.ProcurementNotice = event.data
        await start_procurement_notice(session, msgspec.to_builtins(notice), event.id)

    async def on_nc_updated(event: CloudEvent, session: AsyncSession) -> None:
        nc: qms_events.NonconformanceUpdated = event.data
        if "disposition" in nc.changed:
            await on_nc(event, session, nc.nc_id, nc.disposition, nc.links)

    consumer.on("erp.goods_receipt.posted.v1", on_receipt)
    consumer.on("quality.procurement_notice.v1", on_procurement_notice)
    consumer.on("qms.usage_decision.made.v1", on_decision)
    consumer.on("mes.batch.completed.v1", on_batch_completed)
    consumer.on("qms.nonconformance.opened.v1", on_nc_opened)
    consumer.on("qms.nonconformance.updated.v1", on_nc_updated)
    consumer.on("mes.material.consumed.v1", on_consumed)
    return consumer
