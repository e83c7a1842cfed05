"""Process flows that are stuck, and repairs whose cost never reached ERP."""

from __future__ import annotations

import asyncio
from datetime import datetime

from contracts.kit.flows.store import FlowStatus
from contracts.kit.wire.flows import Flow
from contracts.models import cmms
from contracts.models.operations import Offender
from experience_apis.operations.monitors.base import FAILURES, Found, Monitor
from experience_apis.operations.upstreams import Upstreams

TROUBLED = (FlowStatus.STALLED, FlowStatus.WAITING)
COMPLETION_FLOW = "work_order_completion"


def flow_links(process: str, flow_id: str) -> dict[str, str]:
    return {"flow": f"/{process}/v1/flows/{flow_id}", "timeline": f"/{process}/v1/flows/{flow_id}/timeline"}


def current_step(flow: Flow) -> str | None:
    return next((s.name for s in flow.steps if s.status == "failed"), None)


async def stalled_flows(up: Upstreams, now: datetime) -> Found:
    found = Found()
    asks = [(process, client, status) for process, client in up.processes.items() for status in TROUBLED]
    answers = await asyncio.gather(
        *(client.list_flows(status=status) for _, client, status in asks), return_exceptions=True
    )
    failed: set[str] = set()
    for (process, _, _), answer in zip(asks, answers, strict=True):
        if isinstance(answer, FAILURES):
            if process not in failed:
                failed.add(process)
                found.warn(process, answer, f"{process} flows unknown")
            continue
        if isinstance(answer, BaseException):
            raise answer
        for flow in answer:
            step = current_step(flow)
            state = "retrying" if flow.status == FlowStatus.WAITING else "stalled"
            found.items.append(
                Offender(
                    record_type="flow",
                    record_id=flow.flow_id,
                    summary=f"{process} {flow.type} {state}"
                    + (f" at {step}" if step else "")
                    + (f": {flow.last_error}" if flow.last_error else ""),
                    since=flow.updated_at,
                    links=flow_links(process, flow.flow_id),
                    details={
                        "process": process,
                        "type": flow.type,
                        "status": flow.status,
                        "step": step,
                        "attempts": flow.attempts,
                        "last_error": flow.last_error,
                        "next_run_at": flow.next_run_at.isoformat() if flow.next_run_at else None,
                        "correlation_id": flow.correlation_id,
                        "keys": flow.keys,
                    },
                )
            )
    return found


async def uncosted_work_orders(up: Upstreams, now: datetime) -> Found:
    found = Found()
    try:
        done = await up.cmms.find_work_orders(status=cmms.WorkOrderStatus.TECHNICALLY_COMPLETE)
    except FAILURES as exc:
        found.warn("cmms", exc, "completed work orders unknown")
        return found
    uncosted = [wo for wo in done if not wo.costs_posted]
    flows: dict[str, Flow | None] = {}
    try:
        answers = await asyncio.gather(
            *(up.maintenance.list_flows(work_order_id=wo.wo_id, type=COMPLETION_FLOW) for wo in uncosted)
        )
        flows = {
            wo.wo_id: (found_flows[-1] if found_flows else None)
            for wo, found_flows in zip(uncosted, answers, strict=True)
        }
    except FAILURES as exc:
        found.warn("maintenance", exc, "completion flows not shown")
    for wo in uncosted:
        flow = flows.get(wo.wo_id)
        links = {
            "cmms": f"/cmms/v1/work-orders/{wo.wo_id}",
            "costs": f"/erp/v1/cost-postings?order_ref={wo.wo_id}",
        }
        if flow:
            links |= flow_links("maintenance", flow.flow_id)
        found.items.append(
            Offender(
                record_type="work_order",
                record_id=wo.wo_id,
                summary=f"Work order on {wo.asset_id} technically complete, cost not posted"
                + (f" (completion flow {flow.status})" if flow else " (no completion flow)"),
                since=wo.actual_end or wo.updated_at,
                links=links,
                details={
                    "asset_id": wo.asset_id,
                    "site": wo.site,
                    "flow_id": flow.flow_id if flow else None,
                    "flow_status": flow.status if flow else None,
                    "last_error": flow.last_error if flow else None,
                },
            )
        )
    return found


MONITORS = (
    Monitor(
        "stalled-flows",
        "Flows stalled or retrying",
        "Quality and maintenance flows waiting to retry a failed step, or stalled after their attempts.",
        stalled_flows,
    ),
    Monitor(
        "uncosted-work-orders",
        "Work orders complete without posted cost",
        "Work orders technically complete in CMMS whose costs are not posted, with their completion flow.",
        uncosted_work_orders,
    ),
)
