"""Flow leases on SQLite and PostgreSQL: kept by a heartbeat while a step runs, taken over when a
runner dies or stalls (and the timeline says so), and fenced: a runner that lost its lease commits
nothing. The runners that crash or stall are real processes (tests/flows/lease_worker.py)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from sqlalchemy import func, select

from contracts.kit import flows
from contracts.kit.db import Database
from contracts.kit.flows import FlowRunner, FlowStatus
from contracts.kit.flows.leases import LeaseLost
from contracts.kit.flows.store import flows as flow_table
from contracts.kit.flows.store import timeline
from contracts.kit.tables import outbox
from tests.events.support import receipt
from tests.flows.lease_worker import LEASED, STALL, Runner
from tests.support.fixtures import Spawn
from tests.support.wait import eventually

LEASE = 1.0


async def begin(db: Database, lot: str = "LOT-L1") -> str:
    async with db.transaction() as session:
        return await flows.start(session, LEASED, {"lot_id": lot}, keys={"lot_id": lot}, trigger=lot)


def runner(db: Database, executions: Path, **options: Any) -> FlowRunner[Runner]:
    options.setdefault("lease", LEASE)
    return FlowRunner(db, [LEASED], Runner("test", executions), source="/test", **options)


async def kinds(db: Database, flow_id: str) -> list[str]:
    async with db.sessions() as session:
        query = select(timeline.c.kind).where(timeline.c.flow_id == flow_id).order_by(timeline.c.seq)
        return list((await session.scalars(query)).all())


async def row(db: Database, flow_id: str) -> Any:
    async with db.sessions() as session:
        return (await session.execute(select(flow_table).where(flow_table.c.id == flow_id))).one()


async def events_of(db: Database, flow_id: str) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).where(outbox.c.subject == flow_id)) or 0)


def executed(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@asynccontextmanager
async def in_its_step(
    spawn: Spawn, db: Database, executions: Path, mode: str, log: Path
) -> AsyncIterator[Popen[str]]:
    """A runner in its own process, handed over once it is inside the flow's step; killed
    (SIGKILL) when the block ends, if still alive."""
    with log.open("w") as out:
        process = spawn(
            *(sys.executable, "-m", "tests.flows.lease_worker"),
            *(db.url.render_as_string(hide_password=False), str(executions), mode, str(LEASE)),
            stdout=out,
            stderr=out,
        )

    async def entered() -> bool:
        assert process.poll() is None, "the worker died before reaching its step"
        return bool(executed(executions))

    try:
        await eventually(entered, what="the worker to be inside its step")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        await asyncio.to_thread(process.wait)


async def test_a_step_longer_than_its_lease_keeps_it_and_runs_once(db: Database, tmp_path: Path) -> None:
    executions = tmp_path / "executions"
    flow_id = await begin(db)
    slow = runner(db, executions)
    [held] = await slow.claim_due(1)

    async def step(ctx: flows.FlowContext[Runner]) -> dict[str, Any]:
        await asyncio.sleep(3 * LEASE)  # the step outlives its lease three times over
        return {"ran_by": "slow"}

    slow.types["leased"] = flows.FlowType("leased", "", (flows.Step("the_step", step),), keys=("lot_id",))
    running = asyncio.create_task(slow.run_leased(held))
    other = runner(db, executions)
    while not running.done():
        assert await other.claim_due(5) == [], "another runner took a flow whose step was still running"
        await asyncio.sleep(0.1)
    assert running.result() is FlowStatus.COMPLETED
    assert await kinds(db, flow_id) == ["started", "step_done", "completed"]


async def test_a_runner_that_stalled_past_its_lease_commits_nothing(
    db: Database, spawn: Spawn, tmp_path: Path
) -> None:
    executions, log = tmp_path / "executions", tmp_path / "worker.log"
    flow_id = await begin(db)
    async with in_its_step(spawn, db, executions, "block", log):
        started = time.monotonic()
        # The worker's process is frozen inside the step; its lease lapses and this runner takes over.
        takeover = runner(db, executions)
        leased = []

        async def lapsed() -> bool:
            leased.extend(await takeover.claim_due(1))
            return bool(leased)

        await eventually(lapsed, what="the frozen worker's lease to lapse")
        assert time.monotonic() - started < STALL, "the lease did not lapse while the worker was frozen"
        assert await takeover.run_leased(leased[0]) is FlowStatus.COMPLETED

        async def refused() -> bool:
            return "lease lost" in log.read_text()

        # The worker wakes up with its step's result and tries to commit it: fenced out.
        await eventually(refused, timeout=STALL + 10, what="the stalled worker to find its lease lost")
    worker_name = executed(executions)[0]
    assert executed(executions) == [worker_name, "test"]
    assert await kinds(db, flow_id) == ["started", "lease_taken_over", "step_done", "completed"]
    flow = await row(db, flow_id)
    assert flow.results == {"the_step": {"ran_by": "test"}}
    assert await events_of(db, flow_id) == 1  # the step's event was staged once, not twice


async def test_a_crashed_runners_flow_is_taken_over_when_its_lease_lapses(
    db: Database, spawn: Spawn, tmp_path: Path
) -> None:
    executions, log = tmp_path / "executions", tmp_path / "worker.log"
    flow_id = await begin(db)
    async with in_its_step(spawn, db, executions, "hang", log) as doomed:
        doomed.kill()  # SIGKILL: no cleanup, its lease stays in the row
        await asyncio.to_thread(doomed.wait)
    crashed = time.monotonic()
    survivor = runner(db, executions, poll_interval=0.1)
    task = asyncio.create_task(survivor.run())
    try:

        async def completed() -> bool:
            return (await row(db, flow_id)).status == FlowStatus.COMPLETED

        await eventually(completed, what="the survivor to complete the crashed worker's flow")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # Taken over once the lease lapsed (a generous bound for a loaded machine, not a speed target).
    assert time.monotonic() - crashed < LEASE + 5
    worker_name = executed(executions)[0]
    assert executed(executions) == [worker_name, "test"]
    async with db.sessions() as session:
        note = (
            await session.execute(
                select(timeline.c.step, timeline.c.detail).where(
                    timeline.c.flow_id == flow_id, timeline.c.kind == "lease_taken_over"
                )
            )
        ).one()
    assert note.step == "the_step"
    assert worker_name.removeprefix("worker ") in note.detail
    assert survivor.owner in note.detail


async def test_a_flow_cancelled_while_its_step_runs_stays_cancelled(db: Database, tmp_path: Path) -> None:
    executions = tmp_path / "executions"
    flow_id = await begin(db)
    release = asyncio.Event()

    async def step(ctx: flows.FlowContext[Runner]) -> dict[str, Any]:
        await release.wait()
        ctx.publish(ctx.flow_id, receipt("LOT-L1"))
        return {"ran_by": "late"}

    engine = runner(db, executions, lease=30.0)  # no heartbeat falls due: only the fence stops it
    engine.types["leased"] = flows.FlowType("leased", "", (flows.Step("the_step", step),), keys=("lot_id",))
    [held] = await engine.claim_due(1)
    running = asyncio.create_task(engine.run_leased(held))
    await asyncio.sleep(0.1)
    async with db.transaction() as session:
        await flows.cancel(session, flow_id, "by operator")
    release.set()
    with pytest.raises(LeaseLost):
        await running
    assert (await row(db, flow_id)).status == FlowStatus.CANCELLED
    assert await kinds(db, flow_id) == ["started", "cancelled"]
    assert await events_of(db, flow_id) == 0


async def test_a_runner_that_stops_lets_go_of_its_flows_at_once(db: Database, tmp_path: Path) -> None:
    executions = tmp_path / "executions"
    flow_id = await begin(db)
    stopping = runner(db, executions, lease=30.0)
    stopping.deps.mode = "hang"
    task = asyncio.create_task(stopping.run())

    async def entered() -> bool:
        return bool(executed(executions))

    await eventually(entered, what="the runner to be inside the step")
    task.cancel()  # a deploy or Ctrl-C: the service stops its runner
    await asyncio.gather(task, return_exceptions=True)
    successor = runner(db, executions)  # long before the 30 s lease would lapse
    [held] = await successor.claim_due(1)
    assert await successor.run_leased(held) is FlowStatus.COMPLETED
    assert executed(executions) == ["test", "test"]
    assert "lease_taken_over" not in await kinds(db, flow_id)  # handed over, not taken over
