"""The kernel's flow engine on a real SQLite database, with steps that record what they were asked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from contracts.clients.base import UpstreamProblem, UpstreamUnavailable
from contracts.kit import correlation, flows
from contracts.kit.breaker import CircuitBreaker
from contracts.kit.db import Database
from contracts.kit.flows import FlowRunner, FlowStatus, FlowType, Step
from contracts.kit.flows.leases import LeaseLost
from contracts.kit.flows.store import flows as flow_table
from contracts.kit.flows.store import timeline
from tests.support.wait import eventually


@dataclass
class Upstream:
    """Stands in for a system API: remembers each idempotency key once, like the real one."""

    posted: dict[str, int] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    async def post(self, key: str) -> int:
        self.calls.append(key)
        if self.failures:
            raise self.failures.pop(0)
        return self.posted.setdefault(key, len(self.posted) + 1)


async def first(ctx: flows.FlowContext[Upstream]) -> dict[str, Any]:
    return {"number": await ctx.deps.post(ctx.idempotency_key)}


async def second(ctx: flows.FlowContext[Upstream]) -> dict[str, Any]:
    return {"number": await ctx.deps.post(ctx.idempotency_key), "saw": ctx.results["first"]["number"]}


TWO_STEPS = FlowType(
    "two_steps",
    "test",
    (Step("first", first), Step("second", second), Step("never", first, when=lambda ctx: False)),
    keys=("lot_id",),
)


def runner(db: Database, upstream: Upstream, **options: Any) -> FlowRunner[Upstream]:
    return FlowRunner(db, [TWO_STEPS], upstream, source="/test", base_backoff=0, **options)


async def begin(db: Database, trigger: str = "event-1") -> str:
    with correlation.bound("corr-42"):
        async with db.transaction() as session:
            return await flows.start(
                session, TWO_STEPS, {"lot_id": "LOT-1"}, keys={"lot_id": "LOT-1"}, trigger=trigger
            )


async def status(db: Database, flow_id: str) -> Any:
    async with db.transaction() as session:
        return (await session.execute(select(flow_table).where(flow_table.c.id == flow_id))).one()


async def test_a_flow_runs_its_steps_in_order_and_skips_what_does_not_apply(db: Database) -> None:
    upstream = Upstream()
    flow_id = await begin(db)
    engine = runner(db, upstream)
    [held] = await engine.claim_due(10)
    assert held.flow_id == flow_id
    assert await engine.run_leased(held) is FlowStatus.COMPLETED
    row = await status(db, flow_id)
    assert row.status == "completed"
    assert row.correlation_id == "corr-42"
    assert row.results == {"first": {"number": 1}, "second": {"number": 2, "saw": 1}}
    assert row.next_step == 3
    assert upstream.calls == [f"{flow_id}:first", f"{flow_id}:second"]


async def test_the_same_trigger_starts_one_flow(db: Database) -> None:
    assert await begin(db, "event-7") == await begin(db, "event-7")


async def test_transient_failures_wait_and_retry_with_the_same_key(db: Database) -> None:
    upstream = Upstream(failures=[UpstreamUnavailable("erp down"), UpstreamUnavailable("erp down")])
    flow_id = await begin(db)
    engine = runner(db, upstream)
    assert await engine.run_flow(flow_id) is FlowStatus.WAITING
    assert (await status(db, flow_id)).attempts == 1
    assert await engine.run_flow(flow_id) is FlowStatus.WAITING
    assert await engine.run_flow(flow_id) is FlowStatus.COMPLETED
    assert upstream.calls.count(f"{flow_id}:first") == 3
    assert upstream.posted == {f"{flow_id}:first": 1, f"{flow_id}:second": 2}


async def test_a_restart_resumes_after_the_last_finished_step(db: Database) -> None:
    upstream = Upstream(failures=[UpstreamUnavailable("erp down")])
    flow_id = await begin(db)
    upstream.failures = []
    upstream.posted[f"{flow_id}:first"] = 1

    async def crash_in_second(ctx: flows.FlowContext[Upstream]) -> dict[str, Any]:
        raise KeyboardInterrupt  # the process dies mid-step: nothing after it runs

    crashing = FlowType("two_steps", "test", (Step("first", first), Step("second", crash_in_second)))
    with pytest.raises(KeyboardInterrupt):
        await FlowRunner(db, [crashing], upstream, source="/test", lease=0.2).run_flow(flow_id)
    assert (await status(db, flow_id)).next_step == 1
    with pytest.raises(LeaseLost):  # the crashed runner's lease still holds
        await runner(db, upstream).run_flow(flow_id)
    await asyncio.sleep(0.3)
    assert await runner(db, upstream).run_flow(flow_id) is FlowStatus.COMPLETED
    assert upstream.calls == [f"{flow_id}:first", f"{flow_id}:second"]


async def test_a_refusal_stalls_the_flow_visibly(db: Database) -> None:
    refusal = UpstreamProblem("erp", 409, {"type": "urn:plantbridge:problem:lot-on-hold", "detail": "held"})
    upstream = Upstream(failures=[refusal])
    flow_id = await begin(db)
    assert await runner(db, upstream).run_flow(flow_id) is FlowStatus.STALLED
    row = await status(db, flow_id)
    assert row.status == "stalled"
    assert "lot-on-hold" in row.last_error
    async with db.transaction() as session:
        kinds = (
            await session.scalars(
                select(timeline.c.kind).where(timeline.c.flow_id == flow_id).order_by(timeline.c.seq)
            )
        ).all()
    assert kinds == ["started", "stalled"]


async def test_a_call_still_running_upstream_is_asked_again_later(db: Database) -> None:
    # An earlier attempt timed out here but still runs in the upstream, which holds its key: 409.
    in_use = {"type": "urn:plantbridge:problem:idempotency-key-in-use", "detail": "still being processed"}
    upstream = Upstream(failures=[UpstreamProblem("qms", 409, in_use)])
    flow_id = await begin(db)
    engine = runner(db, upstream)
    assert await engine.run_flow(flow_id) is FlowStatus.WAITING
    assert await engine.run_flow(flow_id) is FlowStatus.COMPLETED


async def test_flows_waiting_for_an_upstream_run_as_soon_as_it_answers_again(db: Database) -> None:
    upstream = Upstream(failures=[UpstreamUnavailable("erp is down", "erp")])
    flow_id = await begin(db)
    engine = FlowRunner(db, [TWO_STEPS], upstream, source="/test", base_backoff=60, poll_interval=0.1)
    assert await engine.run_flow(flow_id) is FlowStatus.WAITING  # next try in a minute
    running = asyncio.create_task(engine.run())
    try:
        await asyncio.sleep(0.5)
        assert (await status(db, flow_id)).status == "waiting"
        erp = CircuitBreaker("erp", threshold=1)  # another caller's circuit to ERP...
        erp.failed()
        erp.succeeded()  # ...closes: ERP answers again

        async def completed() -> bool:
            return (await status(db, flow_id)).status == "completed"

        await eventually(completed, timeout=10, what="the waiting flow to run at once")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_calls_an_open_circuit_held_back_never_stall_a_flow(db: Database) -> None:
    held_back = UpstreamUnavailable("erp is failing; not calling it for another 4s", "erp", attempted=False)
    upstream = Upstream(failures=[held_back] * 5)
    flow_id = await begin(db)
    engine = runner(db, upstream, max_attempts=3)
    assert [await engine.run_flow(flow_id) for _ in range(5)] == [FlowStatus.WAITING] * 5
    assert await engine.run_flow(flow_id) is FlowStatus.COMPLETED


async def test_too_many_transient_failures_stall(db: Database) -> None:
    upstream = Upstream(failures=[UpstreamUnavailable("down")] * 3)
    flow_id = await begin(db)
    engine = runner(db, upstream, max_attempts=3)
    assert [await engine.run_flow(flow_id) for _ in range(3)] == [
        FlowStatus.WAITING,
        FlowStatus.WAITING,
        FlowStatus.STALLED,
    ]


async def test_a_leased_flow_is_not_claimed_twice(db: Database) -> None:
    flow_id = await begin(db)
    assert [held.flow_id for held in await runner(db, Upstream()).claim_due(10)] == [flow_id]
    assert await runner(db, Upstream()).claim_due(10) == []
