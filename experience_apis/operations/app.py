"""Operations experience API: the composition root."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from contracts.clients.outbound import Caller, Outbound
from contracts.kit.app import ServiceSpec, create_service_app, runtime_of
from contracts.kit.lifetimes import from_state, kept
from contracts.topology import by_name
from experience_apis.operations import upstreams
from experience_apis.operations.console.routes import console_router
from experience_apis.operations.gauges import MonitorGauges, refresher
from experience_apis.operations.routes import ROUTES
from experience_apis.operations.service import Operations
from experience_apis.operations.settings import OperationsSettings

OPERATIONS = "operations"  # the key in app.state and the handlers' dependency


def operations_of(app: Litestar) -> Operations:
    operations: Operations = app.state[OPERATIONS]
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
    dependencies={OPERATIONS: from_state(OPERATIONS)},
)


def create_app(
    settings: OperationsSettings | None = None, *, outbound: Outbound | None = None, **overrides: Any
) -> Litestar:
    caller = Caller.of(SPEC.name, OperationsSettings, settings, outbound, overrides)

    def operations(app: Litestar) -> Operations:
        return Operations(upstreams.build(caller, runtime_of(app).redis), gauges=app.state["gauges"])

    app = create_service_app(
        SPEC,
        caller.settings,
        lifespans=[
            kept(OPERATIONS, operations),
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
