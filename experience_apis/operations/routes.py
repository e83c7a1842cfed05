"""Operations HTTP surface: the business monitors (JSON) and the event backbone's operator API."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.types import ControllerRouterHandler

from contracts.kit.operations import events_router
from contracts.kit.patterns import whole
from contracts.kit.responses import problems
from contracts.models.operations import MonitorList, MonitorPage
from experience_apis.operations import service
from experience_apis.operations.monitors.registry import BY_NAME, NAME_PATTERN
from experience_apis.operations.service import Operations

Ops = NamedDependency[Operations]
READ = {"scopes": ("operations:read",)}
Limit = Annotated[int, Parameter(ge=1, le=500, description="Page size")]
Cursor = Annotated[
    str | None,
    Parameter(
        max_length=200, pattern=whole(r"[A-Za-z0-9_\-]+"), description="next_cursor of the previous page"
    ),
]
MonitorName = Annotated[
    str, Parameter(pattern=NAME_PATTERN, max_length=64, description=f"One of: {', '.join(BY_NAME)}")
]


class MonitorController(Controller):
    path = "/monitors"
    tags = ["monitors"]
    opt = READ

    @get(
        responses=problems(422),
        summary="Every business monitor with its count of offending records",
        description="Runs every monitor now, calling ERP, QMS, CMMS, the process APIs and the event "
        "backbone in parallel. A monitor whose upstream did not answer is `complete: false` and the "
        "answer carries `warnings`; the others still answer.",
    )
    async def list_monitors(self, operations: Ops, limit: Limit = 50, cursor: Cursor = None) -> MonitorList:
        return await service.monitor_list(operations, limit, cursor)

    @get(
        "/{name:str}",
        responses=problems(404, 422),
        summary="One monitor's offending records, each with links to it",
        description="Oldest problem first. `complete: false` with `warnings` when an upstream did not "
        "answer (the holds monitor then lists the blocks QMS has not seen posted to ERP).",
    )
    async def get_monitor(
        self, operations: Ops, name: MonitorName, limit: Limit = 50, cursor: Cursor = None
    ) -> MonitorPage:
        return await service.monitor_page(operations, name, limit, cursor)


# The kernel's operator API for streams, dead letters and replay (events:read, events:replay).
ROUTES: list[ControllerRouterHandler] = [MonitorController, events_router("/events")]
