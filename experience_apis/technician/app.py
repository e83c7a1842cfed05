"""Technician experience API: the composition root."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from sqlalchemy import MetaData

from contracts.clients.caller_app import caller_app
from contracts.clients.cmms import CmmsClient
from contracts.clients.erp import ErpClient
from contracts.clients.outbound import Caller
from contracts.clients.qms import QmsClient
from contracts.kit.app import ServiceSpec
from experience_apis.technician.routes import ROUTES
from experience_apis.technician.service import Upstreams
from experience_apis.technician.settings import TechnicianSettings

SPEC = ServiceSpec(
    name="technician",
    title="Plantbridge technician API",
    description="A technician's work orders with asset, history, nonconformance and spare parts "
    "in one answer; "
    "start, pause and complete work. Safe to retry (Idempotency-Key), delta sync (updated_since + cursor), "
    "ETag/If-None-Match and If-Match.",
    api_path="/technician/v1",
    api_version="1.0.0",
    routes=ROUTES,
    metadata=MetaData(),  # no tables of its own; the kernel adds its idempotency table
    versions_dir=Path(__file__).parent / "migrations" / "versions",
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
