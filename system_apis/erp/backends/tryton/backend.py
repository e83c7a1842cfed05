"""The ERP API in front of a Tryton server: commands out, reads through, changes in (poller.py).

Exactly once toward a system without idempotency keys: a command's documents carry our
operation key (a shipment's `reference`, a purchase's `comment`), and a command first looks for
them. If it finds one (an earlier attempt timed out, or this service died before its own
commit), it drives that document on from the state it is in instead of starting another; a
production, which has no field for a key, is recognised as one our Tryton user started for the
same lot and quantity that no record of ours claims yet. Nothing is trusted to "not have
happened" because a call failed.

The use cases live by area: catalogue.py (items, suppliers), purchasing.py (purchase orders,
receipts), stock.py (lots, movements), accounting.py (supplier invoices, payment blocks, credit
notes, cost postings), shipping.py (deliveries, alerts on purchases), on connection.py (calls,
locations, the document driver) and records.py (bindings and events).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.kit.app import Runtime
from contracts.kit.observability import ReadinessCheck
from contracts.kit.paging import Page, PageQuery
from contracts.models import erp as m
from system_apis.erp.backends.tryton.accounting import Accounting
from system_apis.erp.backends.tryton.catalogue import Catalogue
from system_apis.erp.backends.tryton.shipping import Shipping
from system_apis.erp.port import ErpBackend, NotSupported, Operation


class TrytonErp(Catalogue, Accounting, Shipping, ErpBackend):
    name = "tryton"

    def readiness(self) -> dict[str, ReadinessCheck]:
        return {"tryton": self.ping}

    async def ping(self) -> None:
        """Tryton answers as the connector's user, and the mapped locations are there."""
        await self.places()
        await self.call("res.user", "search", [("login", "=", self.settings.user)], 0, 1, None)

    @asynccontextmanager
    async def lifespan(self, runtime: Runtime) -> AsyncIterator[None]:
        from system_apis.erp.backends.tryton.poller import Poller

        poller = Poller(self, runtime.db)
        task = asyncio.create_task(poller.run(), name="tryton-poller")
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            await self.client.close()

    async def create_requisition(
        self, session: AsyncSession, data: m.PurchaseRequisitionCreate, op: Operation
    ) -> m.PurchaseRequisition:
        raise _no_requisitions()

    async def get_requisition(self, session: AsyncSession, requisition_id: str) -> m.PurchaseRequisition:
        raise _no_requisitions()

    async def list_requisitions(
        self,
        session: AsyncSession,
        q: PageQuery,
        item_id: str | None,
        status: m.RequisitionStatus | None,
    ) -> Page[m.PurchaseRequisition]:
        raise _no_requisitions()

    async def move_requisition(
        self,
        session: AsyncSession,
        requisition_id: str,
        action: str,
        if_match: str | None,
        *,
        po_id: str | None = None,
        reason: str | None = None,
    ) -> m.PurchaseRequisition:
        raise _no_requisitions()


def _no_requisitions() -> NotSupported:
    return NotSupported(
        "purchase requisitions are not mapped to Tryton's purchase requests yet",
        slug="requisitions-not-supported",
    )
