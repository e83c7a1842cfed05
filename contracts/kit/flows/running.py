"""The lifespan that runs a process API's flows while its app serves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from litestar import Litestar

from contracts.kit.app import runtime_of
from contracts.kit.flows.engine import FlowRunner, FlowType
from contracts.kit.lifetimes import Lifespan, background
from contracts.kit.settings import FlowSettings


def running_flows(
    name: str, settings: FlowSettings, flow_types: Sequence[FlowType], *, source: str, deps: str
) -> Lifespan:
    """Runs `flow_types` (the task `<name>-flows`) with the step dependencies an earlier lifespan
    keeps in `app.state[deps]` (`kept(deps, ...)`), on the app's database and Redis."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        runner = FlowRunner.configured(
            runtime.db, runtime.redis, settings, flow_types, app.state[deps], source=source
        )
        async with background({f"{name}-flows": runner.run()}):
            yield

    return lifespan
