"""Supplier portal API: the composition root."""

from __future__ import annotations

from litestar import Litestar

from contracts.clients.caller_app import caller_app
from contracts.clients.erp import ErpClient
from contracts.clients.outbound import Caller
from contracts.clients.qms import QmsClient
from contracts.clients.qms_documents import QmsDocumentsClient
from contracts.kit.app import ServiceSpec
from contracts.topology import by_name
from experience_apis.supplier_portal.routes import ROUTES
from experience_apis.supplier_portal.service import Upstreams
from experience_apis.supplier_portal.settings import SupplierSettings

SPEC = ServiceSpec(
    by_name("supplier"),
    title="Plantbridge supplier portal API",
    description="For the supplier named in the token only: its supplier quality cases with their "
    "nonconformances, answering a case, inspection results of its lots, and its scorecard. Another "
    "supplier's record is always 404.",
    routes=ROUTES,
)


def _upstreams(_: Litestar, caller: Caller[SupplierSettings]) -> Upstreams:
    return Upstreams(
        qms=caller.client(QmsClient),
        erp=caller.client(ErpClient, attempts=1),  # non-critical: answer without it
        documents=caller.client(QmsDocumentsClient),
    )


create_app = caller_app(SPEC, SupplierSettings, _upstreams)
