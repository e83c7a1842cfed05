"""A flow runner in a process of its own, whose one step stalls, for the lease tests.

Run by test_flow_leases.py as `python -m tests.flows.lease_worker DB_URL EXECUTIONS MODE LEASE`:
MODE `block` stalls the whole process inside the step for STALL seconds (as a GC pause, a frozen
VM or an overloaded host would: no heartbeat runs meanwhile), then lets the step finish; MODE
`hang` waits inside the step until the test kills the process.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.kit.db import Database
from contracts.kit.flows import FlowContext, FlowRunner, FlowType, Step
from tests.events.support import receipt

STALL = 3.0


@dataclass
class Runner:
    """Who runs the step and how it behaves there; every run is appended to `executions`."""

    name: str
    executions: Path
    mode: str = "quick"


async def the_step(ctx: FlowContext[Runner]) -> dict[str, Any]:
    me = ctx.deps
    await asyncio.to_thread(_append, me.executions, me.name)
    if me.mode == "block":
        time.sleep(STALL)  # noqa: ASYNC251  (the point: the event loop, and its heartbeat, stop)
    elif me.mode == "hang":
        await asyncio.Event().wait()
    ctx.publish(ctx.flow_id, receipt(ctx.data["lot_id"]))
    return {"ran_by": me.name}


LEASED = FlowType(
    "leased", "one step that may outlive its lease", (Step("the_step", the_step),), keys=("lot_id",)
)


def _append(path: Path, line: str) -> None:
    with path.open("a") as out:
        out.write(line + "\n")


async def main(db_url: str, executions: Path, mode: str, lease: float) -> None:
    db = Database(db_url)
    runner = FlowRunner(db, [LEASED], Runner("", executions, mode), source="/test", lease=lease)
    runner.deps.name = f"worker {runner.owner}"
    await runner.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])))
