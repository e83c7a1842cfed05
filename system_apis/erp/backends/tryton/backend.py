"""The ERP API in front of a Tryton server: commands out, reads through, changes in (poller.py).

Exactly once toward a system without idempotency keys: a command's documents carry our
operation key (a shipment's `reference`, a purchase's `comment`), and a command first looks for
them. If it finds one (an earlier attempt timed out, or this service died before its own
commit), it drives that document on from the state it is in instead of starting another; a
production, which has no field for a key, is recognised as one our Tryton user started for the
same lot and quantity that no record of ours claims yet. Nothing is trusted to "not have
happened" because a call failed.

The use cases live by area: catalogue.py (items, suppliers, reorder points), purchasing.py
(purchase orders, receipts), stock.py (lots, movements, reversals), requisitions.py (purchase
requisitions), accounting.py (supplier invoices, payment blocks, credit notes, cost postings),
shipping.py (deliveries, alerts on purchases), on connection.py (calls, locations, the document
driver) and records.py (bindings and events).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from contracts.kit.app import Runtime
from contracts.kit.lifetimes import background
from contracts.kit.observability import ReadinessCheck
from system_apis.erp.backends.tryton.accounting import Accounting
from system_apis.erp.backends.tryton.catalogue import Catalogue
from system_apis.erp.backends.tryton.requisitions import Requisitions
from system_apis.erp.backends.tryton.shipping import Shipping
from system_apis.erp.port import ErpBackend


class TrytonErp(Catalogue, Accounting, Shipping, Requisitions, ErpBackend):
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
        try:
            async with background({"tryton-poller": poller.run()}):
                yield
        finally:
            await self.client.close()
