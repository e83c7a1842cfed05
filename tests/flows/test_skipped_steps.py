"""Skipped steps are recorded with the next step's commit (one transaction fewer each), the last
ones with the commit of the step before them, which completes the flow; the timeline still shows
them in order, also when the step after them fails."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select

from contracts.clients.base import UpstreamUnavailable
from contracts.kit import flows
from contracts.kit.db import Database
from contracts.kit.flows import FlowRunner, FlowStatus, FlowType, Step
from contracts.kit.flows.store import flows as flow_table
from contracts.kit.flows.store import timeline


async def call(ctx: flows.FlowContext[dict[str, int]]) -> dict[str, Any]:
    if ctx.deps.get(ctx.step):  # failures still to come at this step
        ctx.deps[ctx.step] -= 1
        raise UpstreamUnavailable("down for a moment", "erp")
    return {"step": ctx.step}


def never(ctx: flows.FlowContext[Any]) -> bool:
    return False


SKIPPING = FlowType(
    "skipping",
    "test",
    (
        Step("a", call),
        Step("b", call, never),
        Step("c", call, never),
        Step("d", call),
        Step("e", call, never),
    ),
)


async def flow_state(db: Database, flow_id: str) -> tuple[Any, list[tuple[str, str | None]]]:
    async with db.transaction() as session:
        row = (await session.execute(select(flow_table).where(flow_table.c.id == flow_id))).one()
        notes = await session.execute(
            select(timeline.c.kind, timeline.c.step)
            .where(timeline.c.flow_id == flow_id)
            .order_by(timeline.c.seq)
        )
        return row, [(n.kind, n.step) for n in notes]


async def started(db: Database) -> str:
    async with db.transaction() as session:
        return await flows.start(session, SKIPPING, {}, keys={})


async def test_skipped_steps_are_on_the_timeline_in_order_and_the_last_ones_complete_the_flow(
    db: Database,
) -> None:
    flow_id = await started(db)
    assert await FlowRunner(db, [SKIPPING], {}, source="/test").run_flow(flow_id) is FlowStatus.COMPLETED
    row, notes = await flow_state(db, flow_id)
    assert (row.status, row.next_step) == ("completed", 5)
    assert notes == [
        ("started", None),
        ("step_done", "a"),
        ("step_skipped", "b"),
        ("step_skipped", "c"),
        ("step_done", "d"),
        ("step_skipped", "e"),
        ("completed", None),
    ]


async def test_a_step_failing_after_skipped_ones_records_them_and_waits_at_itself(db: Database) -> None:
    flow_id = await started(db)
    runner = FlowRunner(db, [SKIPPING], {"d": 1}, source="/test", base_backoff=0)
    assert await runner.run_flow(flow_id) is FlowStatus.WAITING
    row, notes = await flow_state(db, flow_id)
    assert (row.status, row.next_step) == ("waiting", 3)
    assert notes[-3:] == [("step_skipped", "b"), ("step_skipped", "c"), ("step_failed", "d")]

    assert await runner.run_flow(flow_id) is FlowStatus.COMPLETED
    row, notes = await flow_state(db, flow_id)
    assert notes == [
        ("started", None),
        ("step_done", "a"),
        ("step_skipped", "b"),
        ("step_skipped", "c"),
        ("step_failed", "d"),
        ("step_done", "d"),
        ("step_skipped", "e"),
        ("completed", None),
    ]


async def test_the_last_steps_skipped_are_written_by_the_commit_completing_the_flow(db: Database) -> None:
    """The runner writes the flow's progress once per step run: `a`, then `d` with `e` skipped and
    the flow completed (in a transaction of their own after `d`'s before)."""
    flow_id = await started(db)
    progress: list[str] = []

    def written(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith(f"UPDATE {flow_table.name} SET") and "results=" in statement:
            progress.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", written)
    assert await FlowRunner(db, [SKIPPING], {}, source="/test").run_flow(flow_id) is FlowStatus.COMPLETED
    assert len(progress) == 2
    assert "status=" in progress[-1]  # the second completes the flow


def broken(ctx: flows.FlowContext[Any]) -> bool:
    raise KeyError("no such result")


async def test_a_condition_that_raises_after_a_step_leaves_that_step_done(db: Database) -> None:
    """Looking ahead at the conditions of the steps left does not lose the step just done when one
    of them raises: the step is committed, and the condition raises when its step comes."""
    breaking = FlowType("breaking", "test", (Step("a", call), Step("b", call, broken)))
    async with db.transaction() as session:
        flow_id = await flows.start(session, breaking, {}, keys={})
    runner = FlowRunner(db, [breaking], {}, source="/test")
    with pytest.raises(KeyError):
        await runner.run_flow(flow_id)
    row, notes = await flow_state(db, flow_id)
    assert row.next_step == 1
    assert notes[:2] == [("started", None), ("step_done", "a")]
