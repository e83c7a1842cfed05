"""Technician experience API: the composition root."""

from __future__ import annotations

from litestar import Litestar

from contracts.clients.caller_app import caller_app
from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.outbound import Caller
from contracts.clients.qms import QmsClient
from contracts.kit.app import ServiceSpec
from contracts.topology import by_name
from experience_apis.technician.routes import ROUTES
from experience_apis.technician.service import Upstreams
from experience_apis.technician.settings import TechnicianSettings

SPEC = ServiceSpec(
    by_name("technician"),
    title="Plantbridge technician API",
    description="A technician's work orders with asset, history, nonconformance and spare parts "
    "in one answer; "
    "start, pause and complete work. Safe to retry (Idempotency-Key), delta sync (updated_since + cursor), "
    "ETag/If-None-Match and If-Match.",
    routes=ROUTES,
)


def _upstreams(_: Litestar, caller: Caller[TechnicianSettings]) -> Upstreams:
    return Upstreams(
        cmms=caller.client(CmmsClient),
        qms=caller.client(QmsClient),
        erp=caller.client(ErpClient, attempts=1),  # non-critical: answer without it
        history_limit=caller.settings.history_limit,
        history_days=caller.settings.history_days,
    )


create_app = caller_app(SPEC, TechnicianSettings, _upstreams)
