"""A runner starts a flow from the row it read before leasing it only when nothing changed the
flow in between: a change (another runner's step, an operator's retry) means reading it again."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update

from contracts.kit.db import Database
from contracts.kit.flows import FlowStatus, leases
from contracts.kit.flows.store import flows as flow_table
from contracts.kit.paging import utcnow
from tests.flows.test_flow_engine import Upstream, begin, runner


async def test_a_flow_changed_between_read_and_lease_runs_from_the_row_as_leased(db: Database) -> None:
    flow_id = await begin(db)
    async with db.engine.connect() as conn:
        read = (await conn.execute(select(*leases.CANDIDATE_COLUMNS).where(flow_table.c.id == flow_id))).all()
    # Meanwhile a runner whose lease had lapsed finished `first` and let go of the flow.
    async with db.engine.begin() as conn:
        await conn.execute(
            update(flow_table)
            .where(flow_table.c.id == flow_id)
            .values(next_step=1, results={"first": {"number": 7}}, version=flow_table.c.version + 1)
        )
    started = asyncio.get_running_loop().time()
    held, _ = await db.run(
        lambda conn: leases.lease(conn, read, owner="test", seconds=15, now=utcnow(), started=started),
        relaxed=True,
    )
    upstream = Upstream()

    assert await runner(db, upstream).run_leased(held[0]) == FlowStatus.COMPLETED

    assert upstream.calls == [f"{flow_id}:second"]  # `first` is not run again
    async with db.engine.connect() as conn:
        results = (
            await conn.execute(select(flow_table.c.results).where(flow_table.c.id == flow_id))
        ).scalar()
    assert results["second"]["saw"] == 7


async def test_a_flow_unchanged_since_read_runs_from_that_read(db: Database) -> None:
    flow_id = await begin(db)
    upstream = Upstream()
    [held] = await runner(db, upstream).claim_due(10)
    assert held.snapshot is not None
    assert held.snapshot.id == flow_id

    assert await runner(db, upstream).run_leased(held) == FlowStatus.COMPLETED

    assert upstream.calls == [f"{flow_id}:first", f"{flow_id}:second"]
