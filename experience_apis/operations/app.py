"""Operations experience API: the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide

from contracts.clients.outbound import Caller, Outbound
from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.topology import by_name
from experience_apis.operations import upstreams
from experience_apis.operations.console.routes import console_router
from experience_apis.operations.gauges import MonitorGauges, refresher
from experience_apis.operations.routes import ROUTES
from experience_apis.operations.service import Operations
from experience_apis.operations.settings import OperationsSettings


def provide_operations(request: Request[Any, Any, Any]) -> Operations:
    return operations_of(request.app)


def operations_of(app: Litestar) -> Operations:
    operations: Operations = app.state["operations"]
    return operations


SPEC = ServiceSpec(
    by_name("operations"),
    title="Plantbridge operations API",
    description="Business monitors over the whole platform — holds that did not reach ERP (and the "
    "reverse), inspections and supplier cases past due, stalled flows, dead letters, consumer lag, "
    "repairs without posted cost — each listing its offending records with links; and the event "
    "backbone's operator API (stream health, dead letters, replay). The operations console "
    "(HTML, /operations/console/) is served by the same service.",
    routes=ROUTES,
    dependencies={"operations": Provide(provide_operations, sync_to_thread=False)},
)


def create_app(
    settings: OperationsSettings | None = None, *, outbound: Outbound | None = None, **overrides: Any
) -> Litestar:
    caller = Caller.of(SPEC.name, OperationsSettings, settings, outbound, overrides)
    app = create_service_app(
        SPEC,
        caller.settings,
        lifespans=[
            _operations(caller),
            refresher(
                caller.settings.refresh_seconds,
                lambda a: (operations_of(a).upstreams, operations_of(a).gauges),
            ),
        ],
    )
    app.state["gauges"] = MonitorGauges(runtime_of(app).metrics.registry)
    # The console's pages sit beside the API, outside its bearer-token router: they use a session.
    app.register(console_router(caller.settings, operations_of))
    return app


def _operations(caller: Caller[OperationsSettings]) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        up = upstreams.build(caller, runtime.redis)
        app.state["operations"] = Operations(upstreams=up, gauges=app.state["gauges"])
        try:
            yield
        finally:
            await up.aclose()

    return lifespan
