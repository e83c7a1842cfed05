"""Approval steps under flow leases: parking lets go of the lease, and a runner whose lease was
revoked (an operator cancelled the flow meanwhile) neither records a request nor revives the flow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from contracts.kit import correlation, flows
from contracts.kit.db import Database
from contracts.kit.flows import FlowRunner, FlowStatus, FlowType, Step, approvals
from contracts.kit.flows.approvals import Approval, ApprovalRow
from contracts.kit.flows.leases import LeaseLost
from contracts.kit.flows.store import flows as flow_table
from contracts.kit.paging import utcnow

GATE = Approval(
    subject=lambda ctx: f"release {ctx.data['lot_id']}",
    requested_by=lambda ctx: "P-1",
    requester_keys=lambda ctx: ["name:P-1"],
    escalate_after=lambda ctx: timedelta(0),
    escalate_to=lambda ctx: None,
)


async def done(ctx: flows.FlowContext[Any]) -> dict[str, Any]:
    return {"done": True}


GATED = FlowType("gated", "test", (Step.awaiting("approve", GATE), Step("release", done)), keys=("lot_id",))


async def begin(db: Database) -> str:
    with correlation.bound("corr-approval"):
        async with db.transaction() as session:
            return await flows.start(session, GATED, {"lot_id": "LOT-7"}, keys={"lot_id": "LOT-7"})


async def flow_row(db: Database, flow_id: str) -> Any:
    async with db.transaction() as session:
        return (await session.execute(select(flow_table).where(flow_table.c.id == flow_id))).one()


async def requests(db: Database, flow_id: str) -> list[ApprovalRow]:
    async with db.transaction() as session:
        return list(await session.scalars(select(ApprovalRow).where(ApprovalRow.flow_id == flow_id)))


@pytest.fixture
def engine(db: Database) -> FlowRunner[None]:
    return FlowRunner(db, [GATED], None, source="/test", base_backoff=0)


async def test_a_flow_parked_for_approval_holds_no_lease(db: Database, engine: FlowRunner[None]) -> None:
    flow_id = await begin(db)
    assert await engine.run_flow(flow_id) is FlowStatus.AWAITING_APPROVAL
    row = await flow_row(db, flow_id)
    assert (row.status, row.lease_until) == ("awaiting_approval", None)
    assert [r.status for r in await requests(db, flow_id)] == ["pending"]
    assert await engine.claim_due(10) == []  # no runner picks it up while it waits


async def test_a_runner_whose_lease_was_revoked_records_no_request(
    db: Database, engine: FlowRunner[None]
) -> None:
    flow_id = await begin(db)
    held = await engine.claim(flow_id)
    assert held is not None
    async with db.transaction() as session:
        await flows.cancel(session, flow_id, "by operator")
    with pytest.raises(LeaseLost):
        await engine.run_leased(held)
    assert (await flow_row(db, flow_id)).status == "cancelled"  # not revived as awaiting approval
    assert await requests(db, flow_id) == []


async def test_an_approval_whose_flow_an_operator_cancels_is_withdrawn_not_escalated(
    db: Database, engine: FlowRunner[None]
) -> None:
    flow_id = await begin(db)
    assert await engine.run_flow(flow_id) is FlowStatus.AWAITING_APPROVAL
    async with db.transaction() as session:
        await flows.cancel(session, flow_id, "by operator")
    [request] = await requests(db, flow_id)
    assert (request.status, request.comment) == ("withdrawn", "flow cancelled by operator")
    async with db.transaction() as session:  # due at once (escalate_after 0), yet chases nobody
        assert flow_id not in [row.flow_id for row in await approvals.overdue(session, utcnow())]
